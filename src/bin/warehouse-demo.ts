// `npm start`: the task's three-node cluster (ports 8765, 9876, 8697,
// replication factor 2, data under ./data/) with the REPL attached, so a
// newcomer sees the transcript at once. The REPL runs in this process with the
// demo's meta-commands (\kill 2, \add…). The nodes stop when the REPL ends.
// `npm start -- --consistent` first starts three etcd members (Debian's
// etcd-server) and runs the nodes in the consistent mode on them.
import { mkdirSync } from 'node:fs';
import { LocalCluster } from '../local-cluster/local-cluster.js';
import { DEFAULT_ETCD_BIN, EtcdCluster, checkEtcdBinary } from '../local-cluster/etcd-cluster.js';
import { runCli } from '../cli/main.js';
import { DemoControls } from '../demo/controls.js';

const PORTS = [8765, 9876, 8697];
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
let started: LocalCluster | null = null;
try {
  if (consistent) {
    mkdirSync('data', { recursive: true });
    process.stderr.write('Starting 3 etcd members (data in a temporary folder under data/)...\n');
    etcd = await EtcdCluster.start({ bin: DEFAULT_ETCD_BIN, workDir: 'data' });
    process.stderr.write(`etcd is up: --coordinator ${etcd.coordinatorUrl}\n`);
  }
  started = new LocalCluster({ baseDir: 'data', replicationFactor: 2, logLevel: 'warn', keepData: true, coordinator: etcd?.coordinatorUrl });
  const mode = consistent ? ' in the consistent mode' : '';
  process.stderr.write(`Starting a Warehouse 13 cluster${mode} on 127.0.0.1 ports ${PORTS.join(', ')} (logs in data/*.log)...\n`);
  await started.start(PORTS);
} catch (error) {
  process.stderr.write(`Error: ${(error as Error).message}\n`);
  await started?.stop();
  await etcd?.stop();
  process.exit(1);
}
const cluster = started;
process.stderr.write(`Dashboard: http://127.0.0.1:${PORTS[0]}/ui/ — demo controls: \\nodes \\kill N \\pause N \\resume N \\restart N \\add \\ui (\\help)\n`);

// Ctrl-C during a command exits at once; local-cluster kills the nodes as this process exits.
process.on('SIGINT', () => process.exit(130));

// The demo's nodes speak plain HTTP without tokens: a shell set up for a secured cluster must not point its REPL elsewhere.
for (const name of ['WAREHOUSE_TLS', 'WAREHOUSE_CA', 'WAREHOUSE_TOKEN']) delete process.env[name];

let code = 1;
try {
  code = await runCli([process.argv[0]!, 'warehouse-cli', '-H', '127.0.0.1', '-P', String(PORTS[0])], new DemoControls(cluster));
} finally {
  // SIGCONT first (node.stop does it): a paused node cannot act on SIGTERM.
  await Promise.all(cluster.running().map((node) => node.stop('SIGTERM')));
  await etcd?.stop();
}
process.exit(code);
