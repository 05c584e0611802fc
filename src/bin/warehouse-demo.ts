// `npm start`: the task's three-node cluster (ports 8765, 9876, 8697,
// replication factor 2, data under ./data/) with the REPL attached, so a
// newcomer sees the transcript at once. The REPL runs in this process with the
// demo's meta-commands (\kill 2, \add…). The nodes stop when the REPL ends.
import { LocalCluster } from '../local-cluster/local-cluster.js';
import { runCli } from '../cli/main.js';
import { DemoControls } from '../demo/controls.js';

const PORTS = [8765, 9876, 8697];

const cluster = new LocalCluster({ baseDir: 'data', replicationFactor: 2, logLevel: 'warn', keepData: true });
try {
  process.stderr.write(`Starting a Warehouse 13 cluster on 127.0.0.1 ports ${PORTS.join(', ')} (logs in data/*.log)...\n`);
  await cluster.start(PORTS);
} catch (error) {
  process.stderr.write(`Error: ${(error as Error).message}\n`);
  await cluster.stop();
  process.exit(1);
}
process.stderr.write(`Dashboard: http://127.0.0.1:${PORTS[0]}/ui/ — demo controls: \\nodes \\kill N \\pause N \\resume N \\restart N \\add \\ui (\\help)\n`);

// However the process ends (Ctrl-C during a command exits at once), its nodes must not outlive it.
process.on('exit', () => {
  for (const node of cluster.running()) {
    node.process!.kill('SIGCONT');
    node.process!.kill('SIGTERM');
  }
});
process.on('SIGINT', () => process.exit(130));

let code = 1;
try {
  code = await runCli([process.argv[0]!, 'warehouse-cli', '-H', '127.0.0.1', '-P', String(PORTS[0])], new DemoControls(cluster));
} finally {
  // SIGCONT first: a paused node cannot act on SIGTERM.
  await Promise.all(cluster.running().map((node) => node.stop('SIGTERM')));
}
process.exit(code);
