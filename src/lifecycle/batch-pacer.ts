import { sleep } from '../resilience/backoff.js';

/** The longest pause between two batches, however slow the server gets. */
const MAX_PAUSE_MS = 10_000;

/**
 * Paces batches so that a lifecycle run never takes the server from its application: after each batch it pauses at
 * least `pauseMs`, and at least as long as the batch took (so the run holds locks and I/O at most half the time).
 * A batch much slower than the typical one (the server is busy) doubles the pause; fast batches bring it back down.
 */
export class BatchPacer {
  readonly #base: number;
  #pause: number;
  readonly #recent: number[] = [];

  constructor(pauseMs: number) {
    this.#base = pauseMs;
    this.#pause = pauseMs;
  }

  get currentPauseMs(): number {
    return this.#pause;
  }

  /** After a batch that took `batchMs`: waits, in slices, stopping early when `stop` says so. */
  async pause(batchMs: number, stop: () => unknown): Promise<void> {
    const typical = median(this.#recent);
    this.#recent.push(batchMs);
    if (this.#recent.length > 20) this.#recent.shift();
    if (typical !== undefined && batchMs > 3 * typical) this.slowDown();
    else this.#pause = Math.max(this.#base, Math.floor(this.#pause * 0.8));
    let left = Math.min(MAX_PAUSE_MS, Math.max(this.#pause, batchMs));
    while (left > 0 && !stop()) {
      const slice = Math.min(left, 250);
      await sleep(slice);
      left -= slice;
    }
  }

  /** The server pushed back (a slow batch, a lock it could not get): pause longer. */
  slowDown(): void {
    this.#pause = Math.min(MAX_PAUSE_MS, Math.max(this.#pause * 2, this.#base, 50));
  }
}

function median(values: readonly number[]): number | undefined {
  if (values.length < 3) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
