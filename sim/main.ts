// npm run sim -- --seeds 100000: searches seeds for a run that breaks an
// invariant, reports the throughput, and prints the one-line command that
// replays a failing seed. --seed S runs one seed and prints what it did.
import { Command, InvalidArgumentError } from 'commander';
import { replayCommand, runSeed, type RunResult } from './run.js';

function wholeNumber(min: number): (text: string) => number {
  return (text) => {
    const value = Number(text.trim().replace(/[_,]/g, ''));
    if (!(Number.isSafeInteger(value) && value >= min && value <= 0xffffffff)) throw new InvalidArgumentError(`"${text}" is not a whole number from ${min} to ${0xffffffff}`);
    return value;
  };
}

function describe(result: RunResult): string {
  const { stats } = result;
  return (
    `seed ${result.seed}: ${stats.nodes} nodes, RF ${stats.replicationFactor}, ${stats.ops} ops (${stats.acknowledged} acknowledged, ${stats.unknown} unknown, ${stats.failed} failed), ` +
    `${stats.crashes} crashes, ${stats.partitions} partitions, ${stats.messages} messages (${stats.lost} lost), ${stats.events} events, ${(stats.virtualMs / 1000).toFixed(1)} s virtual; ` +
    `repair: ${stats.repair.antiEntropyKeys} anti-entropy, ${stats.repair.handedOffKeys} handed off, ${stats.repair.hintsDelivered} hints delivered; ` +
    `${result.staleReads} stale read(s); fingerprint ${result.fingerprint}`
  );
}

async function main(): Promise<number> {
  const program = new Command('warehouse-sim')
    .description('Deterministic simulation of a gossip-mode cluster: N nodes running the real membership driver, coordinator, batcher and repair on virtual time, with crashes and partitions')
    .option('--seeds <count>', 'how many seeds to run', wholeNumber(1), 100)
    .option('--from <seed>', 'the first seed', wholeNumber(0), 1)
    .option('--seed <seed>', 'run this one seed and describe it', wholeNumber(0))
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2))
    .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith('error:') ? `warehouse-sim: ${text.slice(7)}` : text) });
  program.parse(process.argv);
  const options = program.opts<{ seeds: number; from: number; seed?: number }>();

  if (options.seed !== undefined) {
    const result = await runSeed(options.seed);
    console.log(describe(result));
    for (const violation of result.violations) console.log(`  violation: ${violation}`);
    return result.ok ? 0 : 1;
  }
  const started = performance.now();
  let lastReport = started;
  for (let seed = options.from; seed < options.from + options.seeds; seed++) {
    const result = await runSeed(seed);
    if (!result.ok) {
      console.log(describe(result));
      for (const violation of result.violations) console.log(`  violation: ${violation}`);
      console.log(`replay: ${replayCommand(seed)}`);
      return 1;
    }
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      const done = seed - options.from + 1;
      console.log(`${done} seeds, ${(done / ((lastReport - started) / 1000)).toFixed(1)} seeds/s`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${options.seeds} seeds from ${options.from} passed in ${seconds.toFixed(1)} s: ${(options.seeds / seconds).toFixed(1)} seeds/s`);
  return 0;
}

process.exitCode = await main();
