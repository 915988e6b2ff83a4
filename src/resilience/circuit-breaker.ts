import { CircuitOpenError } from '../errors/index.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Counts consecutive connection failures of one adapter. After `failureThreshold` of them the circuit opens and
 * `beforeAttempt` throws CircuitOpenError without touching the network; after `resetTimeout` one probe is allowed
 * (half-open): its success closes the circuit, its failure opens it again for another `resetTimeout`.
 * Only connection attempts are counted: a statement the server rejected says nothing about reachability.
 */
export class CircuitBreaker {
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probeInFlight = false;
  #timesOpened = 0;
  #lastError: unknown;

  constructor(
    private readonly adapterId: string,
    private readonly failureThreshold: number,
    private readonly resetTimeout: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): CircuitState {
    if (this.#state === 'open' && this.now() - this.#openedAt >= this.resetTimeout) return 'half-open';
    return this.#state;
  }

  get timesOpened(): number {
    return this.#timesOpened;
  }

  /** Throws CircuitOpenError when the call must not try to connect; otherwise lets it through. */
  beforeAttempt(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half-open' && !this.#probeInFlight) {
      this.#probeInFlight = true;
      return;
    }
    throw new CircuitOpenError(this.adapterId, this.#failures, new Date(this.#openedAt + this.resetTimeout), {
      cause: this.#lastError,
    });
  }

  onSuccess(): void {
    this.#failures = 0;
    this.#probeInFlight = false;
    this.#state = 'closed';
  }

  onFailure(error: unknown): void {
    this.#failures += 1;
    this.#lastError = error;
    const wasProbe = this.#probeInFlight;
    this.#probeInFlight = false;
    if (wasProbe || (this.#state === 'closed' && this.#failures >= this.failureThreshold)) {
      if (this.#state !== 'open' || wasProbe) this.#timesOpened += this.#state === 'open' ? 0 : 1;
      this.#state = 'open';
      this.#openedAt = this.now();
    }
  }
}
