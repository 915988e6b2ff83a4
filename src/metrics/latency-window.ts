/**
 * Keeps the most recent `capacity` latency samples in a ring buffer so that percentiles reflect current behaviour and
 * memory stays constant. Recording is O(1) (it sits on the query hot path); percentiles sort a copy on demand.
 */
export class LatencyWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 2048) {
    this.#samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count += 1;
  }

  summary(): { p50: number; p95: number; p99: number; samples: number } {
    if (this.#count === 0) return { p50: 0, p95: 0, p99: 0, samples: 0 };
    const sorted = this.#samples.slice(0, this.#count).sort();
    const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), samples: this.#count };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
