// The dashboard in a real browser (Debian's chromium driven by
// playwright-core) against real node processes: the page shows the three
// nodes, turns the SIGKILLed leader red within seconds, shows the new leader
// and the replication-factor warning, and locates a key's copies.
// Screenshots of each state go to $WAREHOUSE_SCREENSHOT_DIR or a temp folder.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import type { LocalCluster } from '../../src/local-cluster/local-cluster.js';
import { allocatePorts } from '../../src/local-cluster/ports.js';
import { fastCluster, http, inParallel, makeKeys, nodeIds, tempDir, withLogs } from '../helpers/integration.js';
import { launchBrowser, noBrowser } from '../helpers/browser.js';
import { documentPath } from '../../src/protocol/paths.js';

// Ascending: LEADER sorts first and leads; WATCHED, second, leads once LEADER is killed.
const PORTS = await allocatePorts(3);
const [LEADER, WATCHED] = nodeIds(PORTS) as [string, string];

describe('dashboard in a browser (3 nodes, RF 3)', { timeout: 120_000, skip: noBrowser }, () => {
  let cluster: LocalCluster;
  let context: BrowserContext;
  let page: Page;
  const shots = process.env.WAREHOUSE_SCREENSHOT_DIR ?? tempDir('dashboard-shots');
  const [key] = makeKeys(99, 1);

  const shoot = async (name: string) => {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };
  const row = (node: string) => page.locator(`#nodes tbody tr[data-node="${node}"]`);

  before(async () => {
    cluster = fastCluster('dashboard', 3);
    await cluster.start(PORTS);
    assert.equal(await cluster.waitForLeader(undefined, 10_000), LEADER);
    assert.equal((await http('PUT', `http://${LEADER}${documentPath(key)}`, '{"name": "Tesla\'s death ray"}')).status, 201);
    context = await launchBrowser();
    page = await context.newPage();
  });

  after(async () => {
    process.stdout.write(`# screenshots in ${shots}\n`);
    await context?.close();
    await cluster.stop();
  });

  it('shows every node with its role and state, and live charts of the traffic', async () => {
    try {
      await page.goto(`http://${WATCHED}/ui`);
      await page.locator('#nodes tbody tr.alive').nth(2).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator('#nodes tbody tr').count(), 3);
      assert.equal(await page.locator('#leader').textContent(), LEADER);
      assert.equal(await row(LEADER).locator('.pill.leader').count(), 1);
      assert.equal(await page.locator('#rf').textContent(), '3');
      assert.equal(await page.locator('#warnings .warning').count(), 0);
      // Traffic for the charts: bounded, on loopback.
      await inParallel(makeKeys(100, 300), 8, (k) => http('PUT', `http://${LEADER}${documentPath(k)}`, '{"n": 1}'));
      await page.waitForFunction(() => /\d+\/s on /.test(document.getElementById('rate')?.textContent ?? ''), undefined, { timeout: 10_000 });
      assert.equal(await page.locator('.uplot').count(), 3);
      await shoot('1-three-nodes');
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  it('turns the SIGKILLed leader red within seconds, then shows the new leader and the warning', async () => {
    try {
      const killedAt = Date.now();
      await cluster.get(LEADER).stop('SIGKILL');
      await row(LEADER).locator('.pill.unreachable, .pill.down').waitFor({ timeout: 10_000 });
      const redAfterMs = Date.now() - killedAt;
      assert.ok(redAfterMs < 5000, `red after ${redAfterMs} ms`);
      await shoot('2-leader-unreachable');
      await page.waitForFunction((expected) => document.getElementById('leader')?.textContent === expected, WATCHED, { timeout: 20_000 });
      await page.locator('#warnings .warning').waitFor({ timeout: 10_000 });
      assert.match(
        (await page.locator('#warnings .warning').textContent()) ?? '',
        /WARNING: cluster size \(2\) is smaller than a replication factor \(3\)!/,
      );
      // The page re-renders twice a second: each check waits for its state rather than reading one frame.
      await row(WATCHED).locator('.pill.leader').waitFor({ timeout: 5000 });
      // Dropped; until every peer has forgotten it, gossip may name it again as not yet heard: red either way.
      await row(LEADER).locator('.pill.follower').waitFor({ timeout: 5000 });
      await row(LEADER).locator('.pill.down, .pill.unreachable').waitFor({ timeout: 5000 });
      await shoot('3-new-leader-and-warning');
    } catch (error) {
      throw withLogs(cluster, error);
    }
  });

  it('locates a key: its owners and the version each holds', async () => {
    await page.fill('#key', key!);
    await page.click('#locate button');
    await page.locator('#copies tbody tr').nth(1).waitFor({ timeout: 10_000 });
    const rows = await page.locator('#copies tbody tr').allTextContents();
    assert.equal(rows.length, 2);
    for (const text of rows) {
      assert.match(text, /owner/);
      assert.match(text, /document/);
      assert.match(text, new RegExp(`· ${LEADER.replace(/\./g, '\\.')}$`), 'written by the first leader');
    }
    await page.fill('#key', 'not-a-key');
    await page.click('#locate button');
    await page.waitForFunction(() => document.getElementById('locate-error')?.textContent === 'Error: Key is not a proper UUID4');
    await page.fill('#key', key!);
    await page.click('#locate button');
    await page.locator('#copies tbody tr').nth(1).waitFor();
    await shoot('4-key-located');
  });
});
