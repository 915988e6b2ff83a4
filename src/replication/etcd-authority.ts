import { ExponentialBackoff, handleWhen, noop, retry, type IBackoff } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError } from 'etcd3';
import { DEFAULT_ETCD_PREFIX, DEFAULT_LEASE_TTL_MS, etcdAuthoritySchema, MIN_LEASE_TTL_MS } from '../config/etcd-authority-schema.js';
import { parseConfig } from '../config/parse-config.js';
import { ConfigurationError } from '../errors/configuration-error.js';
import { ReplicationError } from '../errors/replication-error.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { redactUrlPasswords } from '../util/secrets.js';
import { decodeClusterRecord } from './cluster-record-codec.js';
import { bounded, etcdFailure, isUnreachable } from './etcd-calls.js';
import { sleep } from '../resilience/backoff.js';
import { KeyWatch } from './etcd-key-watch.js';
import { EtcdLeadership, type EtcdScope } from './etcd-leadership.js';
import { EtcdLease } from './etcd-lease.js';
import type { ClusterRecord, FailoverAuthority } from './failover-authority.js';
import type { EtcdAuthorityConfig } from './replication-types.js';

/** How often a waiting campaign looks at the leader key even without a watch event (a watch may be reconnecting). */
const CAMPAIGN_POLL_MS = 1000;
/** How soon a campaign tries again after etcd did not answer. */
const UNREACHABLE_RETRY_MS = 500;
/** How long `watch()` waits for etcd to confirm a subscription. */
const WATCH_CONNECT_MS = 5000;

export interface EtcdAuthorityOptions {
  logger?: Logger;
}

/**
 * The failover authority on etcd. Keys: `${prefix}${cluster}/leader` (the holder's name, attached to its lease) and
 * `${prefix}${cluster}/primary` (the ClusterRecord as JSON). A campaign creates the leader key only if it is absent,
 * in one transaction, and otherwise waits (watching the key) until it is free; the holder keeps its lease alive and
 * every write of the record is a transaction fenced on that lease (EtcdLeadership). Every call is bounded; an etcd
 * that does not answer is ReplicationError('unreachable') naming the endpoints.
 */
export class EtcdAuthority implements FailoverAuthority {
  readonly description: string;
  readonly cluster: string;
  readonly leaseTtlMs: number;
  readonly #client: Etcd3;
  readonly #scope: EtcdScope;
  readonly #logger: Logger;
  readonly #watches = new Set<KeyWatch>();
  readonly #leaderships = new Set<EtcdLeadership>();
  readonly #closing = new AbortController();

  /** Checks `config` (ConfigurationError naming the `replication.authority` field) and opens a client; connects lazily. */
  constructor(config: EtcdAuthorityConfig, options: EtcdAuthorityOptions = {}) {
    const checked = parseConfig(etcdAuthoritySchema, config, 'replication.authority');
    if (checked.cluster === undefined) {
      throw new ConfigurationError('replication.authority.cluster', 'is missing', 'Give the cluster name (the replication section defaults it to the primary database id)');
    }
    const prefix = checked.prefix ?? DEFAULT_ETCD_PREFIX;
    const endpoints = checked.endpoints.map(redactUrlPasswords).join(',');
    this.cluster = checked.cluster;
    this.leaseTtlMs = checked.leaseTtl ?? DEFAULT_LEASE_TTL_MS;
    this.description = `etcd ${endpoints} (cluster ${checked.cluster})`;
    this.#logger = options.logger ?? silentLogger;
    this.#client = new Etcd3({
      hosts: checked.endpoints,
      ...(checked.username !== undefined
        ? { auth: { username: checked.username, password: checked.password ?? '', callOptions: () => ({ deadline: new Date(Date.now() + 5000) }) } }
        : {}),
      faultHandling: {
        // Our callers bound and retry each step themselves; the default circuit breaker would refuse calls for 5 s
        // after etcd comes back. With several endpoints a failed call moves on to the next one.
        host: () => noop,
        global: checked.endpoints.length > 1 ? retry(handleWhen(isRecoverableError), { maxAttempts: checked.endpoints.length - 1 }) : noop,
        // etcd3 calls next() on it as on a factory (its own default is `new ExponentialBackoff()`); its type says IBackoff.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
      },
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 },
    });
    const client = this.#client;
    this.#scope = {
      client,
      endpoints,
      leaderKey: `${prefix}${checked.cluster}/leader`,
      primaryKey: `${prefix}${checked.cluster}/primary`,
      track: (watch) => {
        this.#watches.add(watch);
        return () => this.#watches.delete(watch);
      },
    };
  }

  get leaderKey(): string {
    return this.#scope.leaderKey;
  }
  get primaryKey(): string {
    return this.#scope.primaryKey;
  }

  /**
   * Campaigns as `holder` (see FailoverAuthority.campaign). `signal` abandons the campaign (ReplicationError
   * 'timeout' saying so). At the limit: 'unreachable' if etcd did not answer the last attempt, else 'timeout' naming
   * the current holder. A lease granted for a campaign that did not win is revoked.
   */
  async campaign(holder: string, options: { ttlMs: number; timeoutMs: number; signal?: AbortSignal }): Promise<EtcdLeadership> {
    if (holder.trim() === '') throw new ReplicationError('refused', 'campaign: the holder name is empty; give the instance a name');
    if (!(options.ttlMs >= MIN_LEASE_TTL_MS)) throw new ReplicationError('refused', `campaign: ttlMs ${options.ttlMs} is below ${MIN_LEASE_TTL_MS}; etcd refuses shorter leases`);
    const { client, endpoints, leaderKey } = this.#scope;
    const deadline = Date.now() + options.timeoutMs;
    const callTimeout = Math.min(5000, Math.max(1000, options.ttlMs / 2));
    // A deletion seen while no wait is in progress still cuts the next wait short.
    let freed = false;
    let step: AbortController | undefined;
    const wake = () => {
      freed = true;
      step?.abort();
    };
    const watch = new KeyWatch(client, leaderKey, { delete: wake }, { connectTimeoutMs: options.timeoutMs });
    const untrack = this.#scope.track(watch);
    let lease: EtcdLease | undefined;
    let heldBy: string | undefined;
    let lastError: unknown;
    try {
      for (;;) {
        this.#assertOpen();
        if (options.signal?.aborted) throw new ReplicationError('timeout', `the campaign of ${holder} for ${leaderKey} was cancelled`, { step: 'campaign' });
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw this.#campaignFailure(holder, options.timeoutMs, heldBy, lastError);
        let retryIn = CAMPAIGN_POLL_MS;
        freed = false;
        try {
          if (!lease || lease.lost.aborted) lease = await EtcdLease.grant(client, endpoints, options.ttlMs, Math.min(remaining, callTimeout));
          const leaseId = lease.id;
          const result = await bounded(endpoints, 'campaigning', Math.min(remaining, callTimeout), (o) =>
            client.kv.txn(
              {
                compare: [{ key: Buffer.from(leaderKey), target: 'Create', result: 'Equal', create_revision: 0 }],
                success: [{ request_put: { key: Buffer.from(leaderKey), value: Buffer.from(holder), lease: leaseId } }],
                failure: [{ request_range: { key: Buffer.from(leaderKey) } }],
              },
              o,
            ),
          );
          if (result.succeeded) {
            const leadership = new EtcdLeadership(this.#scope, holder, lease, result.header.revision);
            lease = undefined;
            this.#leaderships.add(leadership);
            leadership.lost.addEventListener('abort', () => this.#leaderships.delete(leadership), { once: true });
            return leadership;
          }
          heldBy = result.responses[0]?.response_range.kvs[0]?.value.toString();
          lastError = undefined;
        } catch (error) {
          const cause = error instanceof ReplicationError && error.cause !== undefined ? error.cause : error;
          if (cause instanceof EtcdLeaseInvalidError) {
            // The lease expired in etcd while we waited (etcd was slow or down): grant a new one at once.
            lease?.lose(cause);
            retryIn = 0;
          } else if (isUnreachable(error)) {
            lastError = error;
            retryIn = UNREACHABLE_RETRY_MS;
          } else {
            throw etcdFailure(error, endpoints, 'campaigning');
          }
        }
        // Until the key is deleted (the watch), the next poll, the deadline, a cancel or close.
        if (freed) continue;
        step = new AbortController();
        await sleep(Math.min(retryIn, Math.max(0, deadline - Date.now())), AbortSignal.any([step.signal, this.#closing.signal, ...(options.signal ? [options.signal] : [])]));
        step = undefined;
      }
    } finally {
      untrack();
      void watch.cancel();
      if (lease) void lease.revoke(1000);
    }
  }

  async read(options: { timeoutMs: number }): Promise<ClusterRecord | undefined> {
    this.#assertOpen();
    const { client, endpoints, primaryKey } = this.#scope;
    const response = await bounded(endpoints, 'reading the cluster record', options.timeoutMs, (o) => client.kv.range({ key: Buffer.from(primaryKey) }, o));
    const kv = response.kvs[0];
    return kv ? decodeClusterRecord(kv.value.toString(), primaryKey) : undefined;
  }

  /**
   * Subscribes to the cluster record (see FailoverAuthority.watch). Resolves once etcd confirmed the watch; rejects
   * with 'unreachable' when it did not within 5 s. The watch reconnects by itself after an outage.
   */
  async watch(onChange: (record: ClusterRecord) => void): Promise<() => Promise<void>> {
    this.#assertOpen();
    const { client, endpoints, primaryKey } = this.#scope;
    const watch = new KeyWatch(
      client,
      primaryKey,
      {
        put: (kv) => {
          let record: ClusterRecord;
          try {
            record = decodeClusterRecord(kv.value.toString(), primaryKey);
          } catch (error) {
            this.#logger.log('warn', 'replication: ignored an invalid cluster record', { key: primaryKey, error: error instanceof Error ? error.message : String(error) });
            return;
          }
          onChange(record);
        },
      },
      { connectTimeoutMs: WATCH_CONNECT_MS },
    );
    const untrack = this.#scope.track(watch);
    const unsubscribe = async () => {
      untrack();
      await watch.cancel();
    };
    if (!(await watch.connected)) {
      await unsubscribe();
      throw new ReplicationError('unreachable', `etcd at ${endpoints} did not confirm a watch of ${primaryKey} within ${WATCH_CONNECT_MS} ms; check that etcd runs and that this host reaches it`, { step: 'watching the cluster record' });
    }
    return unsubscribe;
  }

  async leader(options: { timeoutMs: number }): Promise<string | undefined> {
    this.#assertOpen();
    const { client, endpoints, leaderKey } = this.#scope;
    const response = await bounded(endpoints, 'reading the leader', options.timeoutMs, (o) => client.kv.range({ key: Buffer.from(leaderKey) }, o));
    return response.kvs[0]?.value.toString();
  }

  /** Resigns every leadership still held (bounded), cancels the watches and closes the client. Idempotent. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await Promise.all([...this.#leaderships].map((l) => l.resign().catch(() => undefined)));
    // Cancel every watch before closing the client: a watch left attached would reconnect forever.
    await Promise.all([...this.#watches].map((w) => w.cancel(1000)));
    this.#watches.clear();
    this.#client.close();
  }

  #assertOpen(): void {
    if (this.#closing.signal.aborted) throw new ReplicationError('refused', `the authority on ${this.description} is closed`);
  }

  #campaignFailure(holder: string, timeoutMs: number, heldBy: string | undefined, lastError: unknown): ReplicationError {
    if (lastError !== undefined) {
      const failure = etcdFailure(lastError, this.#scope.endpoints, 'campaigning');
      return new ReplicationError('unreachable', `${holder} could not campaign for ${this.#scope.leaderKey} within ${timeoutMs} ms: ${failure.message}`, { step: 'campaign', cause: lastError });
    }
    const who = heldBy === undefined ? 'another instance' : `"${heldBy}"`;
    return new ReplicationError('timeout', `${holder} did not win ${this.#scope.leaderKey} within ${timeoutMs} ms: ${who} holds it`, { step: 'campaign' });
  }
}
