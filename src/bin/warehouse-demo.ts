// `npm start`: the task's three-node cluster (ports 8765, 9876, 8697,
// replication factor 2, data under ./data/) with the REPL attached, so a
// newcomer sees the transcript at once. The nodes stop when the REPL ends.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../local-cluster/local-cluster.js';

const PORTS = [8765, 9876, 8697];
const CLI_BIN = fileURLToPath(new URL('./warehouse-cli.js', import.meta.url));

const cluster = new LocalCluster({ baseDir: 'data', replicationFactor: 2, logLevel: 'warn', keepData: true });
try {
  process.stderr.write(`Starting a Warehouse 13 cluster on 127.0.0.1 ports ${PORTS.join(', ')} (logs in data/*.log)...\n`);
  await cluster.start(PORTS);
} catch (error) {
  process.stderr.write(`Error: ${(error as Error).message}\n`);
  await cluster.stop();
  process.exit(1);
}

const repl = spawn(process.execPath, [CLI_BIN, '-H', '127.0.0.1', '-P', String(PORTS[0])], { stdio: 'inherit' });
// Ctrl-C belongs to the REPL; the nodes are stopped when it exits.
process.on('SIGINT', () => {});
repl.on('exit', async (code) => {
  await Promise.all(cluster.running().map((node) => node.stop('SIGTERM')));
  process.exit(code ?? 0);
});
