import { createHash } from 'node:crypto';

/**
 * Failed authentication attempts per client address, in memory: after `limit` different credentials failed within
 * `windowMs` the address is refused (429) until the oldest of them leaves the window.
 *
 * Only different credentials count: a guesser must try many, while a dashboard left open with a revoked token sends
 * the same one a dozen times per refresh and would otherwise lock out every good token from its address (a shared
 * proxy, a whole office) for a minute. A repeated credential only renews its time in the window.
 *
 * Memory stays bounded: stale addresses are swept on each failure and the map never holds more than `maxClients`
 * addresses (and an address never more than `limit` credentials: beyond that it is refused before it can add one).
 */
export class FailedAttempts {
  readonly #failures = new Map<string, Map<string, number>>();

  constructor(private readonly limit = 10, private readonly windowMs = 60_000, private readonly maxClients = 10_000) {}

  /** Seconds until `client` may try again, or 0 when it may try now. */
  retryAfter(client: string, now = Date.now()): number {
    const recent = this.#recent(client, now);
    if (recent.size < this.limit) return 0;
    return Math.max(1, Math.ceil((Math.min(...recent.values()) + this.windowMs - now) / 1000));
  }

  /** Records a failed attempt with `credential` (the header as sent; only a short hash of it is kept). */
  fail(client: string, credential: string, now = Date.now()): void {
    const recent = this.#recent(client, now);
    recent.set(createHash('sha256').update(credential).digest('base64url').slice(0, 16), now);
    this.#failures.set(client, recent);
    if (this.#failures.size > this.maxClients) this.#sweep(now);
  }

  #recent(client: string, now: number): Map<string, number> {
    const recent = new Map<string, number>();
    for (const [attempt, t] of this.#failures.get(client) ?? []) if (now - t < this.windowMs) recent.set(attempt, t);
    return recent;
  }

  #sweep(now: number): void {
    for (const [client, attempts] of this.#failures) if (![...attempts.values()].some((t) => now - t < this.windowMs)) this.#failures.delete(client);
    // Still too many live addresses: drop the oldest entries (Map keeps insertion order).
    for (const client of this.#failures.keys()) {
      if (this.#failures.size <= this.maxClients) break;
      this.#failures.delete(client);
    }
  }
}
