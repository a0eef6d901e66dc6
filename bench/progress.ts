/**
 * The progress display: one status line on stderr, redrawn every second on a terminal, printed
 * every 10 s otherwise (CI logs), plus plain log lines that scroll above it.
 */

/** Where progress goes. */
export class Progress {
  private status: (() => string) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPrinted = 0;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  /** Prints a line (clearing the status line first). */
  log(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw(true);
  }

  /** Shows `status()` until `done()`. */
  show(status: () => string): void {
    this.status = status;
    this.lastPrinted = 0;
    this.timer ??= setInterval(() => this.draw(false), 1_000);
    this.draw(false);
  }

  /** Removes the status line. */
  done(): void {
    this.clear();
    this.status = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private draw(redraw: boolean): void {
    if (!this.status) return;
    const line = this.status();
    if (this.tty) {
      this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns ?? 120) - 1)}`);
      return;
    }
    if (redraw) return;
    const now = Date.now();
    if (now - this.lastPrinted < 10_000) return;
    this.lastPrinted = now;
    this.out.write(`  … ${line}\n`);
  }

  private clear(): void {
    if (this.tty && this.status) this.out.write('\r\x1b[K');
  }
}

/** 12,345 */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Seconds since `since`, one decimal. */
export function secondsSince(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
