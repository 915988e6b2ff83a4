import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { ReplicationSection } from '../config/replication-config.js';
import { REPLICATION_DEFAULTS } from '../config/replication-config.js';
import { ReplicationError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import type { StateStore } from '../state/state-store.js';
import type { ClusterRecord, FailoverAuthority, Leadership } from './failover-authority.js';
import type { ClusterMembers } from './replication-nodes.js';
import type { NodeStatus, ReplicationDriver, ReplicationNode, SyncSettings } from './replication-part.js';

/** What the primary looked like at its last successful check: the reference for lag and for sync coverage. */
export interface PrimarySighting {
  readonly position: string;
  readonly syncStandbys: readonly string[];
  /** Replicas the primary saw streaming. */
  readonly streaming: readonly string[];
  readonly at: Date;
}

/** One replication event, as recorded in the audit log and returned to the caller. */
export interface ReplicationEvent {
  readonly kind: 'setup' | 'switchover' | 'failover' | 'manual-failover' | 'follow' | 'rejoin' | 'degrade-to-async' | 'fence';
  readonly from?: string;
  readonly to?: string;
  readonly epoch?: number;
  readonly steps: readonly { step: string; ms: number; detail?: string }[];
  readonly warnings: readonly string[];
  readonly outcome: 'done' | 'failed' | 'dry-run';
  readonly error?: string;
  readonly at: Date;
  readonly durationMs: number;
}

/**
 * The live state of one replicated database: its members, which one is the primary now, what was last seen of it,
 * the authority's lease when this instance holds it. The orchestration (switchover, failover) works on this; the
 * manager owns one per `setupReplication`.
 */
export class ReplicatedCluster {
  primary: ReplicationNode;
  lastSeen: PrimarySighting | undefined;
  epoch = 0;
  leadership: Leadership | undefined;
  /** Set while a switchover or failover runs: a second one waits for none and is refused. */
  busy: string | undefined;
  /** Sync mode degraded to async by degradeToAsyncAfter (recorded), until a synchronous standby is back. */
  degraded = false;
  readonly events: ReplicationEvent[] = [];
  /** Changes of primary, rejoins and fences run by this instance, by `kind outcome` (the metrics' counter). */
  readonly counts = new Map<string, number>();
  /** The members' statuses at the last check (for metrics and read routing). */
  lastStatuses: readonly NodeStatus[] = [];

  constructor(
    readonly section: ReplicationSection,
    /** The id of the replicated database (its configured primary). */
    readonly database: string,
    /**
     * This instance's adapter of the database, which follows the primary; undefined when detached (a CLI command that
     * looks and acts without connecting the database, which may be the member that is down).
     */
    readonly adapter: DatabaseAdapter | undefined,
    readonly driver: ReplicationDriver,
    readonly members: ClusterMembers,
    readonly authority: FailoverAuthority | undefined,
    readonly holder: string,
    readonly logger: Logger,
    readonly state: () => Promise<StateStore>,
  ) {
    this.primary = members.configuredPrimary;
  }

  /** Points this instance's adapter at `node` (a no-op when detached: nothing here writes). */
  async routeWrites(node: ReplicationNode, options: { timeoutMs: number }): Promise<void> {
    if (this.adapter) await this.driver.route(this.adapter, node, options);
  }

  /** The adapter that writes to the primary, or a ReplicationError when this cluster was attached without one. */
  writes(): DatabaseAdapter {
    if (!this.adapter) throw new ReplicationError('refused', `${this.database} is not open in this DataManager: call initialize() before routing statements through replication`);
    return this.adapter;
  }

  get nodes(): readonly ReplicationNode[] {
    return this.members.nodes;
  }

  get replicas(): ReplicationNode[] {
    return this.nodes.filter((n) => n.name !== this.primary.name);
  }

  get failoverTimeout(): number {
    return this.section.failoverTimeout ?? REPLICATION_DEFAULTS.failoverTimeout;
  }

  /** The limit of one step against one node: a node that does not answer within it is treated as down. */
  get stepTimeout(): number {
    return Math.min(5_000, Math.max(1_000, Math.floor(this.failoverTimeout / 2)));
  }

  get checkInterval(): number {
    return this.section.checkInterval ?? Math.max(100, Math.min(1_000, Math.floor(this.failoverTimeout / 5)));
  }

  node(name: string): ReplicationNode {
    const found = this.nodes.find((n) => n.name === name);
    if (!found) throw new ReplicationError('refused', `${name} is not a member of ${this.database}'s replication (members: ${this.nodes.map((n) => n.name).join(', ')})`, { node: name });
    return found;
  }

  /** The sync settings for `primary` as the primary: every other member allowed to be synchronous, by priority. */
  syncSettingsFor(primary: ReplicationNode): SyncSettings {
    const standbys = this.nodes.filter((n) => n.name !== primary.name && n.sync).sort((a, b) => a.priority - b.priority).map((n) => n.name);
    const async = this.section.mode === 'async' || this.degraded;
    return {
      mode: async ? 'async' : 'sync',
      method: this.section.syncMethod ?? REPLICATION_DEFAULTS.syncMethod,
      count: Math.min(this.section.syncReplicas ?? REPLICATION_DEFAULTS.syncReplicas, Math.max(1, standbys.length)),
      standbys,
    };
  }

  /** Remembers what the primary said about itself and its replicas (called after every successful check). */
  sight(statuses: readonly NodeStatus[]): void {
    this.lastStatuses = statuses;
    const primary = statuses.find((s) => s.name === this.primary.name);
    if (!primary?.reachable || primary.role !== 'primary' || primary.position === undefined) return;
    const replicas = statuses.filter((s) => s.name !== this.primary.name);
    this.lastSeen = {
      position: primary.position,
      syncStandbys: replicas.filter((s) => s.syncState === 'sync' || s.syncState === 'quorum').map((s) => s.name),
      streaming: replicas.filter((s) => s.streamState === 'streaming').map((s) => s.name),
      at: new Date(),
    };
  }

  /** Writes the cluster record through the lease when this instance holds one (the fencing token); a no-op without an authority. */
  async publish(record: Omit<ClusterRecord, 'at' | 'by' | 'epoch'>): Promise<number> {
    const epoch = this.epoch + 1;
    if (this.authority !== undefined) {
      if (this.leadership === undefined || this.leadership.lost.aborted) {
        throw new ReplicationError('not-leader', `this instance (${this.holder}) does not hold ${this.database}'s failover lease, so it may not change the primary`, { step: 'publish' });
      }
      await this.leadership.putIfLeader({ ...record, epoch, at: new Date().toISOString(), by: this.holder }, { timeoutMs: this.stepTimeout });
    }
    this.epoch = epoch;
    return epoch;
  }

  /** Appends an event to the instance's list and the state store's audit log; the audit write never fails the caller. */
  async record(event: ReplicationEvent): Promise<void> {
    this.events.push(event);
    if (this.events.length > 100) this.events.shift();
    const key = `${event.kind} ${event.outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const log = event.outcome === 'failed' ? 'warn' : 'info';
    this.logger.log(log, `replication ${event.kind} ${event.outcome}`, { database: this.database, from: event.from, to: event.to, epoch: event.epoch, durationMs: event.durationMs, error: event.error });
    try {
      const state = await this.state();
      await state.audit({ action: `replication.${event.kind}`, target: this.database, dryRun: event.outcome === 'dry-run', outcome: event.outcome === 'failed' ? 'failed' : 'succeeded', details: { ...event, at: event.at.toISOString() } });
    } catch (error) {
      this.logger.log('warn', 'could not record a replication event in the state store', { database: this.database, kind: event.kind, error: (error as Error).message });
    }
  }
}

/** Times the steps of an operation, for its event. */
export class StepClock {
  readonly steps: { step: string; ms: number; detail?: string }[] = [];
  readonly started = Date.now();
  #last = Date.now();

  async run<T>(step: string, fn: () => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    const value = await fn();
    const now = Date.now();
    this.steps.push({ step, ms: now - this.#last, detail: detail?.(value) });
    this.#last = now;
    return value;
  }

  get elapsed(): number {
    return Date.now() - this.started;
  }
}
