import { clearLine, createInterface, cursorTo } from 'node:readline';
import type { Heartbeat, WarehouseClient } from '../client/index.js';
import { execute } from './execute.js';
import { formatConnection, formatError, formatWarnings } from './format.js';
import { HISTORY_SIZE, loadHistory, saveHistory } from './history.js';
import { COMMAND_NAMES, parseLine } from './parse.js';
import type { Paint } from './colors.js';
import { completeCommand } from './completion.js';

/** Meta-commands (`\kill 2`…) of the REPL's host; the demo has them, a plain REPL does not. */
export interface ReplControls {
  readonly names: readonly string[];
  run(line: string): Promise<string[]>;
}

const NO_CONTROLS = 'Meta-commands such as \\kill control the demo\'s nodes: they work only in the demo (npm start)';

export interface ReplOptions {
  client: WarehouseClient;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Interactive: prompt, line editing, history. Otherwise only answers are printed. */
  terminal: boolean;
  historyFile?: string;
  paint?: Paint;
  controls?: ReplControls;
}

const PROMPT = '> ';

/** Prints the banner, answers lines strictly in order and resolves at EXIT or end of input. */
export async function runRepl({ client, input, output, terminal, historyFile, paint = (line) => line, controls }: ReplOptions): Promise<void> {
  const history = terminal && historyFile ? loadHistory(historyFile) : [];
  const names = [...COMMAND_NAMES, ...(controls?.names ?? [])];
  const rl = createInterface({
    input,
    output,
    terminal,
    history,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    prompt: PROMPT,
    ...(terminal ? { completer: (line: string) => completeCommand(line, names) } : {}),
  });
  if (terminal && historyFile) rl.on('history', (lines: string[]) => saveHistory(historyFile, lines));

  let busy = false;
  const print = (lines: readonly string[]): void => void output.write(lines.map((line) => `${paint(line)}\n`).join(''));
  const prompt = (): void => {
    if (terminal) rl.prompt();
  };

  // Messages the user did not ask for go above the prompt, keeping what they are typing.
  const announce = (lines: readonly string[]): void => {
    const atPrompt = terminal && !busy;
    if (atPrompt && rl.line !== '') {
      clearLine(output, 0);
      cursorTo(output, 0);
    } else if (atPrompt) {
      output.write('\n');
    }
    print(lines);
    if (atPrompt) rl.prompt(true);
  };

  let shownWarnings = client.heartbeat().warnings;
  const onReconnected = (heartbeat: Heartbeat): void => {
    shownWarnings = heartbeat.warnings;
    announce(formatConnection('Reconnected', heartbeat));
  };
  // A follower dying changes the warnings without a new leader; the user must still see them.
  const onHeartbeat = (heartbeat: Heartbeat): void => {
    const fresh = heartbeat.warnings.filter((warning) => !shownWarnings.includes(warning));
    shownWarnings = heartbeat.warnings;
    if (fresh.length > 0) announce(formatWarnings(fresh));
  };
  client.on('reconnected', onReconnected);
  client.on('heartbeat', onHeartbeat);

  if (terminal) {
    rl.on('SIGINT', () => {
      if (busy) process.exit(130);
      if (rl.line === '') return rl.close();
      // Like a shell: Ctrl-C drops the half-typed line.
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
    });
  }

  print(formatConnection('Connected', client.heartbeat()));
  let exited = false;
  try {
    prompt();
    // The iterator buffers lines that arrive while a command runs, so answers stay in input order.
    for await (const line of rl) {
      const parsed = line.trimStart().startsWith('\\') ? ({ kind: 'meta' } as const) : parseLine(line);
      if (parsed.kind === 'exit') {
        exited = true;
        break;
      }
      if (parsed.kind !== 'empty') {
        busy = true;
        if (parsed.kind === 'meta') print(controls ? await controls.run(line) : [formatError(NO_CONTROLS)]);
        else print(parsed.kind === 'error' ? [formatError(parsed.message)] : await execute(parsed, client));
        busy = false;
      }
      prompt();
    }
  } finally {
    client.off('reconnected', onReconnected);
    client.off('heartbeat', onHeartbeat);
    rl.close();
  }
  // Ctrl-D leaves the cursor after the prompt; the shell's prompt deserves a line of its own.
  if (terminal && !exited) output.write('\n');
}
