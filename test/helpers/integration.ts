// Shared pieces of the integration tests: temp dirs, a cluster with short
// timeouts, plain HTTP calls, direct replica reads and bounded concurrency.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { LocalCluster, type LocalClusterOptions } from '../../src/local-cluster/local-cluster.js';
import type { ReplicaRecord } from '../../src/protocol/schemas.js';
import { REPO_ROOT } from './cli.js';
import { mulberry32, uuid4 } from '../../src/common/random.js';
import { signRequest } from '../../src/security/cluster-auth.js';
import { REPLICA_READ_PATH, STATS_PATH } from '../../src/protocol/paths.js';

/** Short timeouts so failures are detected and repaired within seconds. */
export const FAST = {
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 1500,
  antiEntropyIntervalMs: 2000,
  requestTimeoutMs: 1000,
} as const;

/** The ids (`host:port`) of nodes on these ports of one address. */
export function nodeIds(ports: readonly number[], host = '127.0.0.1'): string[] {
  return ports.map((port) => `${host}:${port}`);
}

/** `text` escaped for a regular expression, e.g. a node id in an expected error message. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `wh13-${name}-`));
}

/** Every test cluster of this process shares it, so a test can sign internal requests like a member. */
export const TEST_SECRET = randomBytes(24).toString('base64url');

export function fastCluster(name: string, replicationFactor: number, options: Partial<LocalClusterOptions> = {}): LocalCluster {
  return new LocalCluster({ baseDir: tempDir(name), replicationFactor, logLevel: 'info', clusterSecret: TEST_SECRET, ...FAST, ...options });
}

/** `count` distinct UUID4 keys from a seed. */
export function makeKeys(seed: number, count: number): string[] {
  const rng = mulberry32(seed);
  const keys = new Set<string>();
  while (keys.size < count) keys.add(uuid4(rng));
  return [...keys];
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One HTTP request (no redirects followed, no retries); `dispatcher` for HTTPS with a test CA. */
export async function http(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH',
  url: string,
  body?: string | Buffer,
  headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' },
  timeoutMs = 5000,
  dispatcher?: Dispatcher,
): Promise<HttpAnswer> {
  const response = await request(url, { method, body, headers, signal: AbortSignal.timeout(timeoutMs), dispatcher });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** A POST to an internal route, signed like a member's (with `secret`), or not at all (null). */
export async function internalPost(node: string, path: string, body: string, secret: string | null = TEST_SECRET, timeoutMs = 5000): Promise<HttpAnswer> {
  const auth = secret === null ? {} : signRequest(secret, 'POST', path, body);
  return http('POST', `http://${node}${path}`, body, { 'content-type': 'application/json', ...auth }, timeoutMs);
}

/** Parses a JSON body, with the text in the message when it is not JSON. */
export function json(answer: HttpAnswer): any {
  try {
    return JSON.parse(answer.text);
  } catch {
    throw new Error(`not JSON (HTTP ${answer.status}): ${answer.text.slice(0, 300)}`);
  }
}

const READ_BATCH = 2000;

/** What one node holds for each key (null: nothing), read directly from its store. */
export async function readReplicas(node: string, keys: readonly string[]): Promise<(ReplicaRecord | null)[]> {
  const out: (ReplicaRecord | null)[] = [];
  for (let start = 0; start < keys.length; start += READ_BATCH) {
    const answer = await internalPost(node, REPLICA_READ_PATH, JSON.stringify({ keys: keys.slice(start, start + READ_BATCH) }));
    if (answer.status !== 200) throw new Error(`replicas/read on ${node}: HTTP ${answer.status} ${answer.text.slice(0, 300)}`);
    out.push(...(json(answer).records as (ReplicaRecord | null)[]));
  }
  return out;
}

/** Per node, per key: the copy each node holds. */
export async function replicaMap(nodes: readonly string[], keys: readonly string[]): Promise<Map<string, (ReplicaRecord | null)[]>> {
  const answers = await Promise.all(nodes.map((node) => readReplicas(node, keys)));
  return new Map(nodes.map((node, i) => [node, answers[i]!]));
}

/** Number of records (documents and tombstones) a node stores, from GET /v1/stats. */
export async function recordCount(node: string): Promise<number> {
  const answer = await http('GET', `http://${node}${STATS_PATH}`);
  if (answer.status !== 200) throw new Error(`stats on ${node}: HTTP ${answer.status}`);
  return json(answer).records as number;
}

/** Runs `work` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Adds a cluster's node logs to a failure message. */
export function withLogs(cluster: LocalCluster, error: unknown, lines = 15): Error {
  const logs = [...cluster.nodes.values()].map((node) => `--- ${node.id} (${node.running ? 'running' : 'stopped'}) ---\n${node.lastOutput(lines)}`);
  const base = error instanceof Error ? error : new Error(String(error));
  base.message = `${base.message}\n${logs.join('\n')}`;
  return base;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program that is expected to end by itself (e.g. a node that must refuse to start); killed after the timeout. */
export async function runToExit(bin: string, args: readonly string[], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<Finished> {
  const started = Date.now();
  const child = spawn(bin, [...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr, ms: Date.now() - started };
}
