import { ExponentialBackoff, fullJitterGenerator, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import { ConnectionError, TimeoutError } from '../errors/index.js';

/** A connection that could not be made: nothing ran on the server, so trying again is safe. */
export function isRetriableConnectFailure(error: unknown): boolean {
  return (error instanceof ConnectionError && error.retriable) || (error instanceof TimeoutError && error.kind === 'connect');
}

export interface RetryNotice {
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/**
 * Connection attempts retried `retries` times on cockatiel's retry policy, with exponential backoff and full jitter (a
 * uniformly random delay between 0 and 100 ms x 2^(retry-1), capped at 5 s), which spreads reconnect storms better
 * than equal or no jitter. Only failures where nothing ran are retried (isRetriableConnectFailure).
 */
export class ConnectRetry {
  readonly #policy: RetryPolicy | undefined;

  constructor(retries: number, onRetry: (notice: RetryNotice) => void) {
    if (retries === 0) return;
    this.#policy = retry(handleWhen(isRetriableConnectFailure), {
      maxAttempts: retries,
      backoff: new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: 100, maxDelay: 5_000 }),
    });
    this.#policy.onRetry((event) => onRetry({ attempt: event.attempt, delayMs: event.delay, error: 'error' in event ? event.error : undefined }));
  }

  /**
   * Runs `attempt` until it succeeds, fails in a way that is not retriable, or the retries are spent. `failedFirst`
   * is a failure of a first attempt the caller already made (the pass-through path): it is replayed as attempt 1,
   * through `replay`, so that it is counted and backed off exactly like one made here.
   */
  execute<T>(attempt: () => Promise<T>, failedFirst?: { error: unknown; replay: (error: unknown) => Promise<T> }): Promise<T> {
    let pending = failedFirst;
    const next = (): Promise<T> => {
      if (!pending) return attempt();
      const { error, replay } = pending;
      pending = undefined;
      return replay(error);
    };
    return this.#policy ? this.#policy.execute(next) : next();
  }
}
