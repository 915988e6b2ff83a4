import { performance } from 'node:perf_hooks';
import { castGrpcError, type Etcd3 } from 'etcd3';
import { ReplicationError } from '../errors/replication-error.js';
import { bounded } from './etcd-calls.js';

/**
 * One etcd lease, kept alive by this process in thirds of its TTL. It counts as held only while it is certainly alive
 * in etcd: each successful keep-alive extends it to the time the request was *sent* plus the TTL etcd granted (etcd
 * counts from when it received it, later), so this side gives up no later than etcd expires it. `lost` aborts when
 * that moment passes without a successful keep-alive, when etcd answers that the lease is gone, or on `lose()`. A
 * lost lease is never revived, even if a late keep-alive succeeds.
 */
export class EtcdLease {
  readonly id: string;
  /** The TTL etcd granted, in milliseconds (it may round up what was asked). */
  readonly ttlMs: number;
  readonly #client: Etcd3;
  readonly #endpoints: string;
  readonly #controller = new AbortController();
  /** performance.now() until which the lease is certainly alive in etcd. */
  #validUntil: number;
  #keepTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(client: Etcd3, endpoints: string, id: string, ttlMs: number, sentAt: number) {
    this.#client = client;
    this.#endpoints = endpoints;
    this.id = id;
    this.ttlMs = ttlMs;
    this.#validUntil = sentAt + ttlMs;
    this.#armExpiry();
    this.#scheduleKeepAlive(this.#interval());
  }

  /** Grants a lease of `ttlMs` (rounded up to whole seconds, etcd's unit) and starts keeping it alive. */
  static async grant(client: Etcd3, endpoints: string, ttlMs: number, timeoutMs: number): Promise<EtcdLease> {
    const sentAt = performance.now();
    const response = await bounded(endpoints, 'granting a lease', timeoutMs, (options) => client.leaseClient.leaseGrant({ TTL: Math.ceil(ttlMs / 1000) }, options));
    if (response.error) throw new ReplicationError('failed', `etcd at ${endpoints} refused a lease of ${ttlMs} ms: ${response.error}`, { step: 'granting a lease' });
    return new EtcdLease(client, endpoints, response.ID, Number(response.TTL) * 1000, sentAt);
  }

  get lost(): AbortSignal {
    return this.#controller.signal;
  }

  /** Wall-clock time (ms since the epoch) until which the lease is certainly alive in etcd; for reports and tests. */
  get validUntil(): number {
    return Date.now() + (this.#validUntil - performance.now());
  }

  /** Marks the lease lost (a watch saw the key taken, a transaction found it gone); stops keeping it alive. */
  lose(reason: Error): void {
    this.#stopTimers();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /**
   * Revokes the lease in etcd (its keys go at once, so others need not wait the TTL) and marks it lost. Best effort
   * within `timeoutMs`: when etcd cannot be reached the lease simply expires.
   */
  async revoke(timeoutMs: number): Promise<void> {
    const wasClosed = this.#closed;
    this.#closed = true;
    this.lose(new ReplicationError('not-leader', `the lease ${this.id} was given up`));
    if (wasClosed) return;
    await bounded(this.#endpoints, 'revoking the lease', timeoutMs, (options) => this.#client.leaseClient.leaseRevoke({ ID: this.id }, options)).catch(() => undefined);
  }

  #interval(): number {
    return Math.max(200, Math.floor(this.ttlMs / 3));
  }

  #scheduleKeepAlive(delayMs: number): void {
    if (this.#closed || this.lost.aborted) return;
    clearTimeout(this.#keepTimer);
    this.#keepTimer = setTimeout(() => void this.#keepAlive(), delayMs);
  }

  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const left = this.#validUntil - performance.now();
    const expire = () => {
      const detail = `no keep-alive of the lease ${this.id} succeeded for its TTL of ${this.ttlMs} ms (etcd at ${this.#endpoints} unreachable or too slow)`;
      this.lose(new ReplicationError('unreachable', detail));
      // Our keys would otherwise stay until etcd expires the lease too; tell it, in case it answers again.
      void this.revoke(1000);
    };
    if (left <= 0) expire();
    else this.#expiryTimer = setTimeout(expire, left);
  }

  async #keepAlive(): Promise<void> {
    if (this.#closed || this.lost.aborted) return;
    const sentAt = performance.now();
    const interval = this.#interval();
    let ttlSeconds: number;
    try {
      ttlSeconds = await bounded(this.#endpoints, 'keeping the lease alive', interval, (options) => this.#keepAliveOnce(options));
    } catch {
      // Retry soon: etcd may answer again within the TTL; the expiry timer decides when it is too late.
      this.#scheduleKeepAlive(Math.min(250, interval));
      return;
    }
    if (this.#closed || this.lost.aborted) return;
    if (ttlSeconds <= 0) {
      this.lose(new ReplicationError('not-leader', `etcd says the lease ${this.id} expired or was revoked`));
      return;
    }
    const until = sentAt + ttlSeconds * 1000;
    if (until > this.#validUntil) {
      this.#validUntil = until;
      this.#armExpiry();
    }
    this.#scheduleKeepAlive(interval);
  }

  /** One keep-alive on its own stream (bounded by the stream's deadline); resolves with the TTL etcd answered. */
  async #keepAliveOnce(options: { deadline: Date }): Promise<number> {
    const stream = await this.#client.leaseClient.leaseKeepAlive(options);
    return new Promise<number>((resolve, reject) => {
      stream.on('data', (response) => {
        resolve(Number(response.TTL));
        stream.end();
      });
      stream.on('error', (error) => reject(castGrpcError(error)));
      stream.on('end', () => reject(new Error('the keep-alive stream ended without an answer')));
      stream.write({ ID: this.id });
    });
  }

  #stopTimers(): void {
    clearTimeout(this.#keepTimer);
    clearTimeout(this.#expiryTimer);
    this.#keepTimer = undefined;
    this.#expiryTimer = undefined;
  }
}
