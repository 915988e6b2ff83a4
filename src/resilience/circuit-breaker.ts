import { BrokenCircuitError, CircuitState as PolicyState, ConsecutiveBreaker, circuitBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import { CircuitOpenError } from '../errors/index.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What one call told the breaker: a value, or an error the caller decided says nothing about reachability. */
type Outcome<T> = { readonly value: T } | { readonly uncounted: unknown };

const EVERY_ERROR = (): boolean => true;

/**
 * Counts consecutive connection failures of one adapter, on cockatiel's circuit breaker. After `failureThreshold` of
 * them the circuit opens and calls fail with CircuitOpenError without touching the network; after `resetTimeout` one
 * probe goes through (half-open; concurrent callers wait for its outcome): its success closes the circuit, its
 * failure opens it again for another `resetTimeout`.
 * Only failures the caller marks as counted are: a statement the server rejected says nothing about reachability,
 * and counts as a success (it resets the run of failures).
 */
export class CircuitBreaker {
  #policy: CircuitBreakerPolicy;
  #failures = 0;
  #openedAt = 0;
  #timesOpened = 0;
  #lastError: unknown;
  #wasClosed = true;

  constructor(
    private readonly adapterId: string,
    private readonly failureThreshold: number,
    private readonly resetTimeout: number,
  ) {
    this.#policy = this.#build();
  }

  #build(): CircuitBreakerPolicy {
    const policy = circuitBreaker(handleAll, { halfOpenAfter: this.resetTimeout, breaker: new ConsecutiveBreaker(this.failureThreshold) });
    policy.onStateChange((state) => {
      // A call still running on a policy that reconnected() replaced has no say any more.
      if (policy !== this.#policy) return;
      if (state === PolicyState.Open) {
        // A failed half-open probe re-opens the circuit: that is the same outage, not a new opening.
        if (this.#wasClosed) this.#timesOpened += 1;
        this.#openedAt = Date.now();
      }
      this.#wasClosed = state === PolicyState.Closed;
    });
    return policy;
  }

  /**
   * The driver re-established its connection by itself (ioredis reconnects on its own, e.g. to the master Sentinel
   * named after a failover): the server is reachable again, so an open circuit closes now instead of failing calls
   * until `resetTimeout` lets a probe through.
   */
  reconnected(): void {
    if (this.#failures === 0 && this.#policy.state === PolicyState.Closed) return;
    this.#failures = 0;
    this.#wasClosed = true;
    this.#policy = this.#build();
  }

  /** 'half-open' as soon as `resetTimeout` has passed: the next call will be the probe. */
  get state(): CircuitState {
    const state = this.#policy.state;
    if (state === PolicyState.Closed) return 'closed';
    if (state === PolicyState.HalfOpen) return 'half-open';
    return Date.now() - this.#openedAt >= this.resetTimeout ? 'half-open' : 'open';
  }

  get timesOpened(): number {
    return this.#timesOpened;
  }

  /**
   * True while the circuit is closed and no failure is counted: then a success would change nothing, so the hot path
   * may call the driver directly and report only a failure (`recordFailure`). This keeps the policy's promise chain
   * off the per-statement path, where it cost about 1 µs per call.
   */
  get passThrough(): boolean {
    return this.#failures === 0 && this.#policy.state === PolicyState.Closed;
  }

  /**
   * Runs `fn` through the breaker. An error for which `counts` is false passes through as the caller's error but
   * counts as a success. Throws CircuitOpenError, without calling `fn`, while the circuit is open.
   */
  async execute<T>(fn: () => Promise<T>, counts: (error: unknown) => boolean = EVERY_ERROR): Promise<T> {
    let outcome: Outcome<T>;
    try {
      outcome = await this.#policy.execute(async (): Promise<Outcome<T>> => {
        try {
          const value = await fn();
          this.#failures = 0;
          return { value };
        } catch (error) {
          if (!counts(error)) {
            this.#failures = 0;
            return { uncounted: error };
          }
          this.#failures += 1;
          this.#lastError = error;
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw this.#openError();
      throw error;
    }
    if ('uncounted' in outcome) throw outcome.uncounted;
    return outcome.value;
  }

  /** Counts a failure seen outside `execute` (on the pass-through path); resolves once the breaker has it. */
  async recordFailure(error: unknown): Promise<void> {
    await this.execute(() => Promise.reject(error)).catch(() => undefined);
  }

  #openError(): CircuitOpenError {
    return new CircuitOpenError(this.adapterId, this.#failures, new Date(this.#openedAt + this.resetTimeout), { cause: this.#lastError });
  }
}
