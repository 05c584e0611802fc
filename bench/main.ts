// The warehouse-bench executable: parse flags, run, exit with
// 0 (all requests succeeded), 1 (errors or a failure), 2 (bad flags), 130 (interrupted).
import { parseBenchArgs } from './cli.js';
import { runBenchmark, UsageError } from './run.js';

// A closed stdout (e.g. piped into head) must not end the run before its clean-up.
process.stdout.on('error', () => undefined);

const options = parseBenchArgs(process.argv.slice(2));
const controller = new AbortController();
let interrupts = 0;
const interrupt = () => {
  interrupts++;
  if (interrupts > 1) process.exit(130); // the exit hook still kills the clusters and removes their data
  process.stderr.write('\nStopping after the requests in flight, then cleaning up (interrupt again to quit at once)...\n');
  controller.abort();
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, interrupt);

try {
  const result = await runBenchmark({ ...options, signal: controller.signal });
  process.exit(result.interrupted ? 130 : result.errors > 0 ? 1 : 0);
} catch (error) {
  process.stderr.write(`Error: ${(error as Error).message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
}
