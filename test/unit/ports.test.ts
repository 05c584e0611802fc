// The port allocator the tests, the benchmark and the chaos harness share.
// Each case runs a private allocator (its own lock dir) over ports the shared
// allocator gave this process, so it can occupy and reclaim them without
// touching what concurrent test files hold.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { PortAllocator, allocatePorts } from '../../src/local-cluster/ports.js';

const PORTS_MODULE = new URL('../../src/local-cluster/ports.js', import.meta.url).href;

/** Allocates `count` ports with a private allocator once told to, prints them, and holds them until its stdin ends. */
const CLAIMER = `
import { createInterface } from 'node:readline';
const [url, dir, pool, count] = process.argv.slice(1);
const { PortAllocator } = await import(url);
const allocator = new PortAllocator(dir, JSON.parse(pool));
const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
console.log('ready');
await input.next();
console.log(JSON.stringify(await allocator.allocate(Number(count))));
await input.next();
`;

const lockDir = () => mkdtempSync(join(tmpdir(), 'wh13-ports-test-'));

class Claimer {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  constructor(dir: string, pool: readonly number[], count: number) {
    this.child = spawn(process.execPath, ['--input-type=module', '-e', CLAIMER, PORTS_MODULE, dir, JSON.stringify(pool), String(count)]);
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async line(): Promise<string> {
    const next = await this.lines.next();
    if (next.done) throw new Error(`the claimer ended early: ${this.stderr}`);
    return next.value;
  }

  async finish(): Promise<number | null> {
    const exited = once(this.child, 'exit');
    this.child.stdin.end();
    const [code] = (await exited) as [number | null];
    return code;
  }
}

/** A pid no process has: a child's that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

async function listen(port: number, host: string): Promise<Server> {
  const server = createServer();
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

describe('port allocator', () => {
  it('hands out five-digit ports below the ephemeral range, ascending', async () => {
    const ports = await allocatePorts(5);
    const range = existsSync('/proc/sys/net/ipv4/ip_local_port_range') ? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8') : '32768';
    const ephemeralStart = Number(range.trim().split(/\s+/)[0]);
    assert.equal(new Set(ports).size, 5);
    assert.deepEqual(ports, [...ports].sort((a, b) => a - b));
    for (const port of ports) assert.ok(port >= 10_000 && port < ephemeralStart, `${port} below ${ephemeralStart}`);
  });

  it('never gives two processes allocating at once the same port, and frees them when they exit', async () => {
    const pool = await allocatePorts(60);
    const dir = lockDir();
    // Together they take 50 of the 60 ports, each walking from a random one: without the locks they would overlap.
    const claimers = [new Claimer(dir, pool, 25), new Claimer(dir, pool, 25)];
    try {
      for (const claimer of claimers) assert.equal(await claimer.line(), 'ready');
      for (const claimer of claimers) claimer.child.stdin.write('go\n');
      const [a, b] = (await Promise.all(claimers.map(async (claimer) => JSON.parse(await claimer.line()) as number[]))) as [number[], number[]];
      assert.equal(a.length, 25);
      assert.equal(b.length, 25);
      assert.deepEqual(a.filter((port) => b.includes(port)), []);
      assert.deepEqual(readdirSync(dir).map(Number).sort(), [...a, ...b].sort());
    } finally {
      for (const code of await Promise.all(claimers.map((claimer) => claimer.finish()))) assert.equal(code, 0);
    }
    assert.deepEqual(readdirSync(dir), [], 'locks left after the claimers exited');
  });

  it("reclaims a lock whose owner is dead, and leaves a live owner's lock alone", async () => {
    const [stale, live] = (await allocatePorts(2)) as [number, number];
    const dir = lockDir();
    symlinkSync(String(await deadPid()), join(dir, String(stale)));
    symlinkSync(String(process.ppid), join(dir, String(live)));
    const allocator = new PortAllocator(dir, [stale, live]);
    assert.deepEqual(await allocator.allocate(1), [stale]);
    assert.equal(readlinkSync(join(dir, String(stale))), String(process.pid));
    assert.equal(readlinkSync(join(dir, String(live))), String(process.ppid));
    assert.deepEqual(readdirSync(dir).sort(), [String(stale), String(live)].sort(), 'no reclaim marker left');
    await assert.rejects(allocator.allocate(1), /found 0 of 1 free ports/);
  });

  it('skips a port someone listens on, on any of the hosts asked for', async () => {
    const pool = await allocatePorts(10);
    const dir = lockDir();
    const taken = pool.slice(0, 9);
    const servers = await Promise.all(taken.map((port, i) => listen(port, i % 2 === 0 ? '127.0.0.1' : '127.0.0.2')));
    try {
      const allocator = new PortAllocator(dir, pool);
      assert.deepEqual(await allocator.allocate(1, ['127.0.0.1', '127.0.0.2']), [pool[9]]);
      assert.deepEqual(readdirSync(dir), [String(pool[9])], 'the busy ports are not left locked');
      await assert.rejects(allocator.allocate(1, ['127.0.0.1', '127.0.0.2']), /found 0 of 1 free ports on 127\.0\.0\.1, 127\.0\.0\.2 in 10 tries/);
    } finally {
      for (const server of servers) server.close();
    }
  });

  it('gives a released port out again', async () => {
    const [port] = (await allocatePorts(1)) as [number];
    const dir = lockDir();
    const allocator = new PortAllocator(dir, [port]);
    assert.deepEqual(await allocator.allocate(1), [port]);
    await assert.rejects(allocator.allocate(1), /found 0 of 1 free ports on 127\.0\.0\.1 in 1 tries/);
    allocator.release([port]);
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(await allocator.allocate(1), [port]);
  });
});
