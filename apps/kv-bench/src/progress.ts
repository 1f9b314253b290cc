/** A one-line progress bar on stderr (only when stderr is a terminal or KVKIT_PROGRESS=1). */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly enabled: boolean;

  constructor(
    private readonly total: number,
    private label = '',
  ) {
    this.enabled = Boolean(process.stderr.isTTY) || process.env.KVKIT_PROGRESS === '1';
  }

  setLabel(label: string): void {
    this.label = label;
    this.draw(true);
  }

  advance(units: number): void {
    this.done += units;
    this.draw(false);
  }

  finish(): void {
    if (this.enabled) process.stderr.write('\n');
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const share = Math.min(1, this.done / this.total);
    const width = 30;
    const filled = Math.round(share * width);
    const elapsed = (now - this.started) / 1000;
    const eta = share > 0 ? elapsed / share - elapsed : 0;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${elapsed.toFixed(0)}s elapsed, ~${eta.toFixed(0)}s left  ${this.label}`;
    process.stderr.write(`\r${bar.slice(0, 120).padEnd(120)}`);
  }
}
