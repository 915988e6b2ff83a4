import type { DatabaseAdapter, Row } from '../adapters/database-adapter.js';
import { REPLICATION_DEFAULTS } from '../config/replication-config.js';
import { getEngine } from '../engines/engine-registry.js';
import { ConnectionError, ReplicationError } from '../errors/index.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { Logger } from '../util/logger.js';
import type { NodeStatus, ReplicationNode } from './replication-part.js';
import type { ReadPreference } from './replication-types.js';
import type { ReplicatedCluster } from './replicated-cluster.js';

/** Member statuses older than this are refreshed before a read is routed by them. */
const STATUS_MAX_AGE_MS = 2_000;

/**
 * Sends reads to replicas when asked (`readPreference`), never to one that is unreachable, not a replica, or more
 * than `maxReadLag` bytes behind; round-robin among the rest. Each replica gets an adapter of its own (opened on
 * first use, with the primary's settings), so its pool, health and metrics are its own (`<id>@<member>`).
 */
export class ReadRouter {
  readonly #adapters = new Map<string, Promise<DatabaseAdapter>>();
  #statuses: readonly NodeStatus[] = [];
  #seenAt = 0;
  #next = 0;

  constructor(
    private readonly cluster: ReplicatedCluster,
    private readonly logger: Logger,
    private readonly metrics: MetricsRegistry,
  ) {}

  /** Fresh member statuses from elsewhere (status(), the watcher's checks). */
  observe(statuses: readonly NodeStatus[]): void {
    this.#statuses = statuses;
    this.#seenAt = Date.now();
  }

  async query<T extends Row = Row>(sql: string, params: readonly unknown[] | undefined, preference: Exclude<ReadPreference, 'primary'>): Promise<T[]> {
    const cluster = this.cluster;
    if (preference === 'primaryPreferred') {
      try {
        return await cluster.writes().query<T>(sql, params);
      } catch (error) {
        if (!(error instanceof ConnectionError)) throw error;
        const replica = await this.#pick();
        if (!replica) throw error;
        return (await this.#adapter(replica)).query<T>(sql, params);
      }
    }
    const replica = await this.#pick();
    if (replica) return (await this.#adapter(replica)).query<T>(sql, params);
    if (preference === 'replicaPreferred') return cluster.writes().query<T>(sql, params);
    throw new ReplicationError('no-candidate', `no replica of ${cluster.database} can serve reads now (${this.#why()}); use readPreference "replicaPreferred" to fall back to the primary`, { step: 'route read' });
  }

  async close(): Promise<void> {
    const adapters = [...this.#adapters.values()];
    this.#adapters.clear();
    await Promise.allSettled(adapters.map(async (a) => (await a).close()));
  }

  async #pick(): Promise<ReplicationNode | undefined> {
    const cluster = this.cluster;
    if (Date.now() - this.#seenAt > STATUS_MAX_AGE_MS) {
      this.observe(await cluster.driver.status(cluster.nodes, { timeoutMs: cluster.stepTimeout }));
    }
    const maxLag = cluster.section.maxReadLag ?? cluster.section.maximumLagOnFailover ?? REPLICATION_DEFAULTS.maximumLagOnFailover;
    const usable = this.#statuses.filter((s) => s.name !== cluster.primary.name && s.reachable && s.role === 'replica' && (s.lag?.replayBytes ?? 0) <= maxLag);
    if (usable.length === 0) return undefined;
    const chosen = usable[this.#next++ % usable.length]!;
    return cluster.node(chosen.name);
  }

  #why(): string {
    const cluster = this.cluster;
    const replicas = this.#statuses.filter((s) => s.name !== cluster.primary.name);
    return replicas.map((s) => `${s.name}: ${!s.reachable ? 'unreachable' : s.role !== 'replica' ? s.role : `${s.lag?.replayBytes ?? '?'} bytes behind`}`).join(', ') || 'no replicas';
  }

  #adapter(node: ReplicationNode): Promise<DatabaseAdapter> {
    let adapter = this.#adapters.get(node.name);
    if (!adapter) {
      adapter = (async () => {
        const created = await getEngine(node.config.type).create(node.config, { logger: this.logger, metrics: this.metrics });
        await created.connect();
        return created;
      })();
      adapter.catch(() => this.#adapters.delete(node.name));
      this.#adapters.set(node.name, adapter);
    }
    return adapter;
  }
}
