// `npm start`: the task's three-node cluster (ports 8765, 9876, 8697,
// replication factor 2, data under ./data/) with the REPL attached, so a
// newcomer sees the transcript at once. The nodes stop when the REPL ends.
// `npm start -- --consistent` first starts three etcd members (Debian's
// etcd-server) and runs the nodes in the consistent mode on them.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../local-cluster/local-cluster.js';
import { DEFAULT_ETCD_BIN, EtcdCluster, checkEtcdBinary } from '../local-cluster/etcd-cluster.js';

const PORTS = [8765, 9876, 8697];
const CLI_BIN = fileURLToPath(new URL('./warehouse-cli.js', import.meta.url));
const USAGE = 'usage: npm start [-- --consistent]';

const args = process.argv.slice(2);
if (args.some((arg) => arg !== '--consistent')) {
  process.stderr.write(`Error: unknown argument ${args.find((arg) => arg !== '--consistent')} (${USAGE})\n`);
  process.exit(2);
}
const consistent = args.includes('--consistent');
if (consistent) {
  const problem = checkEtcdBinary(DEFAULT_ETCD_BIN);
  if (problem) {
    process.stderr.write(`Error: the consistent mode needs ${problem}\n`);
    process.exit(1);
  }
}

let etcd: EtcdCluster | null = null;
let cluster: LocalCluster | null = null;
try {
  if (consistent) {
    mkdirSync('data', { recursive: true });
    process.stderr.write('Starting 3 etcd members (data in a temporary folder under data/)...\n');
    etcd = await EtcdCluster.start({ bin: DEFAULT_ETCD_BIN, workDir: 'data' });
    process.stderr.write(`etcd is up: --coordinator ${etcd.coordinatorUrl}\n`);
  }
  cluster = new LocalCluster({ baseDir: 'data', replicationFactor: 2, logLevel: 'warn', keepData: true, coordinator: etcd?.coordinatorUrl });
  const mode = consistent ? ' in the consistent mode' : '';
  process.stderr.write(`Starting a Warehouse 13 cluster${mode} on 127.0.0.1 ports ${PORTS.join(', ')} (logs in data/*.log)...\n`);
  await cluster.start(PORTS);
} catch (error) {
  process.stderr.write(`Error: ${(error as Error).message}\n`);
  await cluster?.stop();
  await etcd?.stop();
  process.exit(1);
}

const repl = spawn(process.execPath, [CLI_BIN, '-H', '127.0.0.1', '-P', String(PORTS[0])], { stdio: 'inherit' });
// Ctrl-C belongs to the REPL; the nodes are stopped when it exits.
process.on('SIGINT', () => {});
repl.on('exit', async (code) => {
  await Promise.all(cluster!.running().map((node) => node.stop('SIGTERM')));
  await etcd?.stop();
  process.exit(code ?? 0);
});
