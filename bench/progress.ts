// A one-line progress indicator, redrawn in place with \r: only on a TTY.

export class Progress {
  private shown = false;

  constructor(
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(text: string): void {
    if (!this.enabled) return;
    const width = this.stream.columns ? this.stream.columns - 1 : 100;
    this.stream.write(`\r${text.slice(0, width)}\x1b[K`);
    this.shown = true;
  }

  /** Erases the line, so that the next report line starts clean. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
