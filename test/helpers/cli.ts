// Drives the real `./warehouse-cli` through pipes: send a line, await the next
// output lines or a line matching a pattern, each with a deadline. Output is
// split into lines as it arrives; nothing here sleeps for a fixed time.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_BIN = fileURLToPath(new URL('../../../warehouse-cli', import.meta.url));
export const NODE_BIN = fileURLToPath(new URL('../../../warehouse-node', import.meta.url));

const DEFAULT_TIMEOUT_MS = 10_000;

interface Waiter {
  /** Returns true once satisfied (and then consumed what it needed). */
  check(): boolean;
  fail(error: Error): void;
}

export class CliDriver {
  /** Complete stdout lines not yet consumed by an expectation. */
  private readonly pending: string[] = [];
  /** Every stdout line ever received, for failure messages. */
  readonly transcript: string[] = [];
  private partial = '';
  private stderrText = '';
  private waiters: Waiter[] = [];
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onData(chunk));
    child.stderr.on('data', (chunk: string) => (this.stderrText += chunk));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        if (this.partial !== '') this.push(this.partial);
        this.partial = '';
        this.exitCode = code;
        this.exitSignal = signal;
        this.settle();
        resolve({ code, signal });
      });
    });
  }

  /** Starts `./warehouse-cli` (or another program: the demo, `script`) with these arguments, stdin and stdout piped. */
  static start(args: readonly string[], env: NodeJS.ProcessEnv = {}, { bin = CLI_BIN, cwd = REPO_ROOT }: { bin?: string; cwd?: string } = {}): CliDriver {
    const child = spawn(bin, [...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new CliDriver(child);
  }

  get stderr(): string {
    return this.stderrText;
  }

  get running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Writes one line (a newline is added). */
  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Closes stdin (Ctrl-D for a piped REPL). */
  endInput(): void {
    this.child.stdin.end();
  }

  /** The next `count` lines, in order; fails if they do not arrive within the timeout. */
  async lines(count: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string[]> {
    let taken: string[] = [];
    await this.wait(timeoutMs, `${count} line(s)`, () => {
      if (this.pending.length < count) return false;
      taken = this.pending.splice(0, count);
      return true;
    });
    return taken;
  }

  /** The next line. */
  async line(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    return (await this.lines(1, timeoutMs))[0]!;
  }

  /**
   * Consumes lines up to and including the first that matches; returns the
   * match and the lines skipped before it.
   */
  async lineMatching(pattern: RegExp | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ line: string; skipped: string[] }> {
    const test = (line: string) => (typeof pattern === 'string' ? line === pattern : pattern.test(line));
    let result = { line: '', skipped: [] as string[] };
    await this.wait(timeoutMs, `a line matching ${String(pattern)}`, () => {
      const index = this.pending.findIndex(test);
      if (index < 0) return false;
      const consumed = this.pending.splice(0, index + 1);
      result = { line: consumed[index]!, skipped: consumed.slice(0, index) };
      return true;
    });
    return result;
  }

  /** Sends a line and returns the next `count` output lines. */
  async ask(line: string, count = 1, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string[]> {
    this.send(line);
    return this.lines(count, timeoutMs);
  }

  /** Lines received but not consumed yet. */
  unread(): string[] {
    return [...this.pending];
  }

  /** Waits for the process to end; kills it on timeout. */
  async waitForExit(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`warehouse-cli did not exit within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the process if it still runs; safe to call more than once. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  describe(): string {
    return [
      '--- cli stdout so far ---',
      ...this.transcript,
      '--- unread ---',
      ...this.pending,
      '--- cli stderr ---',
      this.stderrText.trimEnd(),
    ].join('\n');
  }

  /** Waits until the line being written (no newline yet) matches: a prompt, the echo of typed keys on a terminal. */
  async currentLineMatching(pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.wait(timeoutMs, `the current line to match ${pattern}`, () => pattern.test(this.partial));
  }

  private onData(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop()!;
    for (const part of parts) this.push(part.replace(/\r$/, ''));
    this.settle();
  }

  private push(line: string): void {
    this.pending.push(line);
    this.transcript.push(line);
  }

  private settle(): void {
    this.waiters = this.waiters.filter((waiter) => !waiter.check());
    if (!this.running) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) {
        waiter.fail(new Error(`warehouse-cli exited (code ${this.exitCode}, signal ${this.exitSignal})\n${this.describe()}`));
      }
    }
  }

  private wait(timeoutMs: number, what: string, check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    if (!this.running) {
      return Promise.reject(new Error(`warehouse-cli exited before ${what} arrived\n${this.describe()}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== entry);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`));
      }, timeoutMs);
      const entry: Waiter = {
        check: () => {
          if (!check()) return false;
          clearTimeout(timer);
          resolve();
          return true;
        },
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(entry);
    });
  }
}
