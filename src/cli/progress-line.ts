/** A one-line progress display (bytes or rows, rate, ETA) for long operations, rewritten in place on a terminal. */
export class ProgressLine {
  readonly #started = performance.now();
  #last = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly isTty: boolean,
    private readonly amount: (n: number) => string = formatBytes,
  ) {}

  /** `fraction` in 0..1 when known, for the ETA. Updates at most 4 times a second. */
  update(label: string, bytesDone: number, fraction: number | undefined, final = false): void {
    const now = performance.now();
    if (!final && now - this.#last < 250) return;
    this.#last = now;
    const seconds = (now - this.#started) / 1000;
    const rate = seconds > 0 ? bytesDone / seconds : 0;
    const eta = fraction && fraction > 0 && fraction < 1 ? ` ETA ${formatDuration((seconds / fraction) * (1 - fraction))}` : '';
    const line = `${label}: ${this.amount(bytesDone)} at ${this.amount(rate)}/s${fraction !== undefined ? ` (${Math.floor(fraction * 100)} %)` : ''}${eta}`;
    if (this.isTty) this.write(`\r${line.padEnd(79)}${final ? '\n' : ''}`);
    else if (final || Math.floor(seconds) % 5 === 0) this.write(`${line}\n`);
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatDuration(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}

export function formatRows(n: number): string {
  return `${Math.round(n).toLocaleString('en')} rows`;
}
