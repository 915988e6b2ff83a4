import { ApiError } from './api-error.js';

export interface PacerSettings {
  /** Requests started per second; 0 turns pacing off. */
  readonly perSecond: number;
  /** How long a request may wait for its turn before it is refused (503 with Retry-After). */
  readonly maxWaitMs: number;
}

/**
 * Paces the requests the service answers: a token bucket of `perSecond` tokens (at most one second's worth saved up,
 * so a dashboard's burst of a dozen calls is never held back), and a FIFO queue for the requests beyond it.
 *
 * Why: a backup is CPU-bound (chunking, compression, encryption) and the service's requests run on the same cores; a
 * scraper or dashboard that keeps hundreds of requests in flight would otherwise take as much CPU as it can and slow
 * the backup down by a third on a two-core machine. Paced, such a client waits longer for its answers and the
 * backup keeps its speed; no request fails unless it would have to wait longer than `maxWaitMs`, in which case it
 * is refused at once (it could not be answered in time anyway) rather than left hanging.
 */
export class RequestPacer {
  #tokens: number;
  #refilledAt: number;
  readonly #queue: { grant: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: PacerSettings,
    /** Named in refusals (the `server` option that sets it), so that the operator knows what to raise. */
    private readonly option: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = settings.perSecond;
    this.#refilledAt = now();
  }

  /** Resolves when the request may run; throws a 503 ApiError when it would wait longer than the limit. */
  async acquire(): Promise<void> {
    if (this.settings.perSecond <= 0) return;
    this.#refill();
    if (this.#queue.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return;
    }
    // This request's turn comes after everyone queued before it, at `perSecond`.
    const waitMs = ((this.#queue.length + 1 - this.#tokens) / this.settings.perSecond) * 1000;
    if (waitMs > this.settings.maxWaitMs) {
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(503, 'overloaded', `the service is answering ${this.settings.perSecond} requests per second (${this.option}) and ${this.#queue.length} are waiting; retry in ${retryAfter} s, or send fewer requests at once`, { 'Retry-After': String(retryAfter) });
    }
    await new Promise<void>((grant) => {
      this.#queue.push({ grant });
      this.#schedule();
    });
  }

  /** Requests waiting for their turn now. */
  get waiting(): number {
    return this.#queue.length;
  }

  #refill(): void {
    const now = this.now();
    this.#tokens = Math.min(this.settings.perSecond, this.#tokens + ((now - this.#refilledAt) / 1000) * this.settings.perSecond);
    this.#refilledAt = now;
  }

  /**
   * One timer at a time releases the queue as tokens come in, in batches every quarter of a second: on these
   * machines each wake-up of the process (the timer, then a write that wakes the client) cost about 1 ms of CPU, so
   * releasing one request every 10 ms made a paced request cost ten times an unpaced one (1.4 ms instead of 0.12 ms
   * for /livez). Batched, a queued request waits at most a quarter second longer, and costs 0.5 ms.
   */
  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return;
    const untilNext = Math.max(250, ((1 - this.#tokens) / this.settings.perSecond) * 1000);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.#queue.length > 0 && this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#queue.shift()!.grant();
      }
      this.#schedule();
    }, untilNext);
  }
}
