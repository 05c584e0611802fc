import { parseNodeArgs } from '../node/config.js';
import { startNode } from '../node/main.js';

const config = parseNodeArgs(process.argv.slice(2));
try {
  const node = await startNode(config);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    node.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  void node.rejected.then(async (reason) => {
    process.stderr.write(`Error: ${reason}\n`);
    await node.stop();
    process.exit(1);
  });
} catch (error) {
  process.stderr.write(`Error: ${(error as Error).message}\n`);
  process.exit(1);
}
