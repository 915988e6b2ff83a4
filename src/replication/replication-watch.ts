import type { ClusterRecord, FailoverAuthority, Leadership } from './failover-authority.js';
import { FailoverWatcher } from './failover-watcher.js';
import type { NodeStatus } from './replication-part.js';
import type { ReplicatedCluster } from './replicated-cluster.js';
import { runFailover } from './run-failover.js';
import { SyncGuard } from './sync-guard.js';

/**
 * What one datakeep instance does for a replicated database while it runs: campaigns for the authority's lease;
 * as the holder, checks the primary every checkInterval and fails over when it has failed every check for
 * failoverTimeout, fences a member that comes back as a second primary, and applies degradeToAsyncAfter; as any
 * instance, follows the cluster record so its write adapter points at the primary another instance promoted.
 */
export class ReplicationWatch {
  #watcher: FailoverWatcher | undefined;
  #unfollow: (() => Promise<void>) | undefined;
  readonly #guard: SyncGuard;
  readonly #repointedAt = new Map<string, number>();

  constructor(
    private readonly cluster: ReplicatedCluster,
    private readonly authority: FailoverAuthority,
    private readonly automatic: boolean,
  ) {
    this.#guard = new SyncGuard(cluster);
  }

  get leading(): boolean {
    return this.#watcher?.state().leader ?? false;
  }

  get holder(): string | undefined {
    return this.#watcher?.state().holder;
  }

  /** Failing-for and last-check facts for health and metrics. */
  state(): { leader: boolean; holder: string | undefined; failingForMs: number; lastProbeOk: boolean | undefined } {
    const s = this.#watcher?.state();
    return { leader: s?.leader ?? false, holder: s?.holder, failingForMs: s?.failingForMs ?? 0, lastProbeOk: s?.lastProbeOk };
  }

  async start(): Promise<void> {
    const cluster = this.cluster;
    if (!this.automatic) {
      this.#unfollow = await this.authority.watch((record) => void this.#follow(record));
      return;
    }
    this.#watcher = new FailoverWatcher({
      authority: this.authority,
      holder: cluster.holder,
      ttlMs: cluster.section.authority?.leaseTtl ?? 10_000,
      checkIntervalMs: cluster.checkInterval,
      failoverTimeoutMs: cluster.failoverTimeout,
      logger: cluster.logger,
      probePrimary: () => this.#probe(),
      onPrimaryDown: (leadership: Leadership) => this.#failover(leadership),
      onRecord: (record: ClusterRecord) => void this.#follow(record),
    });
    this.#watcher.start();
  }

  async stop(): Promise<void> {
    const watcher = this.#watcher;
    const unfollow = this.#unfollow;
    this.#watcher = undefined;
    this.#unfollow = undefined;
    // The manager closes the authority after this (it opened it).
    await Promise.allSettled([watcher?.stop(), unfollow?.()]);
  }

  /** One check of the primary (as the lease holder): every member's status, so lag and sync coverage stay current. */
  async #probe(): Promise<boolean> {
    const cluster = this.cluster;
    if (cluster.busy !== undefined) return true;
    let statuses: readonly NodeStatus[];
    try {
      statuses = await cluster.driver.status(cluster.nodes, { timeoutMs: Math.min(cluster.stepTimeout, Math.max(500, cluster.checkInterval * 2)) });
    } catch {
      return false;
    }
    const primary = statuses.find((s) => s.name === cluster.primary.name);
    const ok = primary?.reachable === true && primary.role === 'primary';
    if (!ok) return false;
    cluster.sight(statuses);
    await this.#fenceStrays(statuses);
    await this.#converge(statuses);
    await this.#guard.check(statuses);
    return true;
  }

  /**
   * A reachable replica that does not stream from the primary is re-pointed to it: what an instance that died in the
   * middle of a failover left undone (in sync mode, commits would wait for it forever), or a replica restarted with
   * an old configuration. At most once per replica every few check intervals, so a replica that cannot follow is
   * not hammered; each attempt is logged.
   */
  async #converge(statuses: readonly NodeStatus[]): Promise<void> {
    const cluster = this.cluster;
    const cooldown = Math.max(5_000, cluster.checkInterval * 10);
    const strays = statuses.filter((s) => s.name !== cluster.primary.name && s.reachable && s.role === 'replica' && s.upstream !== cluster.primary.name && s.streamState !== 'streaming');
    for (const stray of strays) {
      if (Date.now() - (this.#repointedAt.get(stray.name) ?? 0) < cooldown) continue;
      this.#repointedAt.set(stray.name, Date.now());
      try {
        await cluster.driver.repoint(cluster.node(stray.name), cluster.primary, { timeoutMs: cluster.stepTimeout });
        cluster.logger.log('info', 're-pointed a replica that did not follow the primary', { database: cluster.database, replica: stray.name, primary: cluster.primary.name, upstream: stray.upstream });
      } catch (error) {
        cluster.logger.log('warn', 'could not re-point a replica to the primary', { database: cluster.database, replica: stray.name, error: (error as Error).message });
      }
    }
  }

  async #failover(leadership: Leadership): Promise<void> {
    const cluster = this.cluster;
    cluster.leadership = leadership;
    try {
      await runFailover(cluster, { reason: 'failover' });
    } catch (error) {
      cluster.logger.log('error', 'automatic failover failed', { database: cluster.database, error: (error as Error).message });
    }
  }

  /** A member that answers as a primary besides the current one (the old primary restarted by hand) is fenced at once. */
  async #fenceStrays(statuses: readonly NodeStatus[]): Promise<void> {
    const cluster = this.cluster;
    for (const stray of statuses.filter((s) => s.reachable && s.role === 'primary' && s.name !== cluster.primary.name)) {
      const node = cluster.node(stray.name);
      const started = Date.now();
      try {
        const result = await cluster.driver.fence(node, cluster.primary, { timeoutMs: cluster.stepTimeout });
        await cluster.record({ kind: 'fence', from: node.name, to: cluster.primary.name, epoch: cluster.epoch, steps: [{ step: 'fence', ms: Date.now() - started, detail: result.actions.join(', ') }], warnings: [], outcome: 'done', at: new Date(), durationMs: Date.now() - started });
      } catch (error) {
        await cluster.record({ kind: 'fence', from: node.name, to: cluster.primary.name, epoch: cluster.epoch, steps: [], warnings: [], outcome: 'failed', error: (error as Error).message, at: new Date(), durationMs: Date.now() - started });
      }
    }
  }

  /** Another instance changed the primary: point this instance's adapter at it. */
  async #follow(record: ClusterRecord): Promise<void> {
    const cluster = this.cluster;
    // This instance's own switchover or failover wrote the record; it routes when its promotion is done.
    if (cluster.busy !== undefined) return;
    if (record.epoch <= cluster.epoch && record.primary === cluster.primary.name) return;
    if (record.epoch < cluster.epoch) return;
    const node = cluster.nodes.find((n) => n.name === record.primary);
    if (!node) {
      cluster.logger.log('error', 'the cluster record names a primary that is not a configured member', { database: cluster.database, primary: record.primary });
      return;
    }
    cluster.epoch = record.epoch;
    if (node.name === cluster.primary.name) return;
    const from = cluster.primary.name;
    cluster.primary = node;
    cluster.lastSeen = undefined;
    const started = Date.now();
    try {
      await cluster.routeWrites(node, { timeoutMs: cluster.failoverTimeout });
      cluster.logger.log('info', 'following a new primary', { database: cluster.database, from, to: node.name, epoch: record.epoch, durationMs: Date.now() - started });
    } catch (error) {
      cluster.logger.log('error', 'could not route to the new primary', { database: cluster.database, to: node.name, error: (error as Error).message });
    }
  }
}
