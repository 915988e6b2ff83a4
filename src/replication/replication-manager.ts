import { readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Row } from '../adapters/database-adapter.js';
import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import { StateStore } from '../state/state-store.js';
import type { HealthStatus } from '../adapters/health-status.js';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import { parseReplicationConfig } from '../config/replication-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { enginesWith, getEngine } from '../engines/engine-registry.js';
import { CapabilityError, LifecycleError, ReplicationError, UnknownAdapterError, UsageError } from '../errors/index.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { SystemCheck } from '../monitoring/system-check.js';
import { replicationChecks } from './replication-checks.js';
import type { FailoverAuthority } from './failover-authority.js';
import { followEngine } from './follow-engine.js';
import type { Logger } from '../util/logger.js';
import { registerReplicationMetrics } from './replication-metrics.js';
import { clusterMembers, findMember } from './replication-nodes.js';
import type { EngineFollower, NodeStatus, ReplicationNode } from './replication-part.js';
import type { ReadPreference, ReplicationConfig } from './replication-types.js';
import { ReplicatedCluster, type ReplicationEvent } from './replicated-cluster.js';
import { runFailover, type FailoverResult } from './run-failover.js';
import { runSwitchover } from './run-switchover.js';
import { ReplicationWatch } from './replication-watch.js';
import { ReadRouter } from './read-router.js';
import { replicationHealth } from './replication-health.js';

export interface ReplicationStatus {
  readonly database: string;
  readonly mode: 'sync' | 'async';
  /** True while sync mode runs as async after degradeToAsyncAfter (recorded in the audit log). */
  readonly degraded: boolean;
  readonly primary: string;
  readonly epoch: number;
  readonly nodes: readonly NodeStatus[];
  /** Sync mode: standbys confirming commits now; fewer than syncReplicas means writes wait. */
  readonly syncStandbys: readonly string[];
  readonly authority: { readonly description: string; readonly leader: boolean; readonly holder: string | undefined } | undefined;
  readonly problems: readonly string[];
}

export interface SetupReplicationResult {
  readonly database: string;
  readonly primary: string;
  readonly created: readonly string[];
  readonly status: ReplicationStatus;
}

/**
 * `dm.replication`: the seed's replication (setupReplication, failover) on each engine's own replication, reached
 * through the engine's replication part. One replicated database per DataManager (the primary's adapter follows
 * every change of primary). Automatic failover runs only with an authority (a lease in etcd) that outlives this process.
 */
export class ReplicationManager {
  #cluster: ReplicatedCluster | undefined;
  #watch: ReplicationWatch | undefined;
  #follow: EngineFollower | undefined;
  #reads: ReadRouter | undefined;
  #setup: Promise<unknown> | undefined;
  readonly #holder = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;

  #ownState: Promise<StateStore> | undefined;

  /**
   * `context` is the DataManager's context when initialized, else undefined: then the manager works detached, from
   * the configuration alone (the CLI's status and failover must work while the configured primary is the member
   * that is down), with a state store of its own for the audit log.
   */
  constructor(
    private readonly context: () => DatakeepContext | undefined,
    private readonly configuration: () => ResolvedDatakeepConfig,
    private readonly metrics: MetricsRegistry,
    private readonly logger: () => Logger,
  ) {
    registerReplicationMetrics(metrics.registry, () => this.#cluster, () => this.#watch);
  }

  /**
   * The seed's `setupReplication({enabled, mode, replicas, failoverTimeout})`: checks the configuration, finds the
   * live primary, creates the replicas whose data directory is missing or empty, applies the sync settings, points
   * the database's adapter at the primary and, with an authority, starts watching (automatic failover) or following.
   */
  async setupReplication(input: ReplicationConfig): Promise<SetupReplicationResult> {
    if (this.#setup) throw new ReplicationError('refused', 'setupReplication() was already called on this DataManager; call dm.replication.stop() first to change it');
    const run = this.#open(input, true);
    this.#setup = run.catch(() => (this.#setup = undefined));
    return run;
  }

  /** The members' roles, positions and lag now; also feeds health and metrics. */
  async status(): Promise<ReplicationStatus> {
    const cluster = await this.#ensure();
    const statuses = await cluster.driver.status(cluster.nodes, { timeoutMs: cluster.stepTimeout });
    cluster.sight(statuses);
    this.#reads?.observe(statuses);
    return this.#describe(cluster, statuses);
  }

  /** Planned change of primary without loss (datakeep replication switchover). */
  async switchover(options: { target?: string; dryRun?: boolean } = {}): Promise<FailoverResult> {
    const cluster = await this.#ensure();
    return this.#asLeader(cluster, () => runSwitchover(cluster, { ...options, target: this.#member(cluster, options.target) }));
  }

  /**
   * The seed's `failover(target)`: promote `target` (a member name or host:port). With the primary up this is a
   * switchover (nothing lost); with it down, a failover with fencing. `force` accepts a possible loss of
   * acknowledged writes (no synchronous standby reachable).
   */
  async failover(target?: string, options: { force?: boolean; dryRun?: boolean } = {}): Promise<FailoverResult> {
    const cluster = await this.#ensure();
    const member = this.#member(cluster, target);
    const statuses = await cluster.driver.status([cluster.primary], { timeoutMs: cluster.stepTimeout });
    if (statuses[0]?.reachable && statuses[0].role === 'primary') {
      return this.switchover({ target: member, dryRun: options.dryRun });
    }
    return this.#asLeader(cluster, () => runFailover(cluster, { target: member, force: options.force, dryRun: options.dryRun, reason: 'manual-failover' }));
  }

  /** A read (or any statement) routed by read preference: to a replica within maxReadLag when asked, else the primary. */
  async query<T extends Row = Row>(sql: string, params?: readonly unknown[], options: { readPreference?: ReadPreference } = {}): Promise<T[]> {
    const cluster = await this.#ensure();
    const preference = options.readPreference ?? cluster.section.readPreference ?? 'primary';
    if (preference === 'primary') return cluster.writes().query<T>(sql, params);
    this.#reads ??= new ReadRouter(cluster, cluster.logger, this.metrics);
    return this.#reads.query<T>(sql, params, preference);
  }

  /** The config file's `replication` section (for the CLI's setup and watch), or a LifecycleError saying how to add one. */
  configured(): ReplicationConfig {
    const section = this.configuration().replication;
    if (section === undefined) throw new LifecycleError('replication is not configured: add a "replication" section to the config file (docs/replication.md)');
    return section as ReplicationConfig;
  }

  /** What this instance watches, for the CLI. */
  describeWatch(): string {
    const cluster = this.#cluster;
    if (!cluster) return 'nothing';
    return `${cluster.database} (primary ${cluster.primary.name}, failoverTimeout ${cluster.failoverTimeout} ms${cluster.authority ? `, lease in ${cluster.authority.description}` : ''})`;
  }

  /** True while this instance holds the failover lease (it watches the primary and may fail over). */
  leading(): boolean {
    return this.#watch?.leading ?? false;
  }

  /** The events of this instance (setup, switchovers, failovers, rejoins), newest last; the audit log keeps them all. */
  events(): readonly ReplicationEvent[] {
    return this.#cluster?.events ?? [];
  }

  /** Stops watching, resigns the lease (so another instance need not wait for its TTL), closes read adapters. */
  async stop(): Promise<void> {
    const watch = this.#watch;
    const follow = this.#follow;
    const reads = this.#reads;
    const authority = this.#cluster?.authority;
    this.#watch = undefined;
    this.#follow = undefined;
    this.#reads = undefined;
    this.#cluster = undefined;
    this.#setup = undefined;
    await Promise.allSettled([watch?.stop(), follow?.stop(), reads?.close()]);
    await authority?.close().catch(() => undefined);
    const state = this.#ownState;
    this.#ownState = undefined;
    await state?.then((s) => s.close()).catch(() => undefined);
  }

  /** Adds replication facts to the primary adapter's health: degraded when sync mode has no synchronous standby. */
  async decorateHealth(statuses: Map<string, HealthStatus>): Promise<void> {
    const cluster = this.#cluster;
    if (!cluster) return;
    let described: ReplicationStatus;
    try {
      described = await this.status();
    } catch (error) {
      described = { ...this.#describe(cluster, []), problems: [`replication status failed: ${(error as Error).message}`] };
    }
    const current = statuses.get(cluster.database);
    if (current) statuses.set(cluster.database, replicationHealth(current, described));
  }

  /** validateSystem()'s replication checks (none when replication is not set up in this process). */
  async validationChecks(): Promise<SystemCheck[]> {
    const cluster = this.#cluster;
    if (!cluster) return [];
    const status = await this.status().catch((error: unknown) => ({ problems: [`replication status failed: ${(error as Error).message}`] }));
    return replicationChecks(cluster, status);
  }

  /**
   * `act` false attaches to the cluster as it is (the CLI's status, switchover, failover): no replica is created, no
   * setting changed, no watcher started.
   */
  async #open(input: ReplicationConfig, act: boolean): Promise<SetupReplicationResult> {
    const section = parseReplicationConfig(input, 'setupReplication(config)');
    const context = this.context();
    if (!context && act) throw new LifecycleError('call initialize() before setupReplication()');
    const configuration = context?.config ?? this.configuration();
    const logger = context?.logger ?? this.logger();
    const config = primaryConfig(configuration, section.database);
    const adapter = context?.registry.get(config.id);
    if (!section.enabled) {
      await this.stop();
      return { database: config.id, primary: '', created: [], status: { database: config.id, mode: section.mode, degraded: false, primary: '', epoch: 0, nodes: [], syncStandbys: [], authority: undefined, problems: ['replication is disabled'] } };
    }
    const driver = getEngine(config.type).parts.replication;
    if (!driver) throw new CapabilityError(config.id, 'replication', `${config.type} has no replication in datakeep`, `Use a database of type ${enginesWith('replication').join(', ')}`);
    const members = clusterMembers(section, config, 'setupReplication(config)');
    const authority = section.authority ? await openAuthority(section.authority, config.id, logger) : undefined;
    const state = context ? () => context.state() : () => (this.#ownState ??= StateStore.open({ url: configuration.state.url, dir: configuration.state.dir }, logger));
    const cluster = new ReplicatedCluster(section, config.id, adapter, driver, members, authority, this.#holder, logger, state);
    try {
      const statuses = await driver.status(cluster.nodes, { timeoutMs: cluster.stepTimeout });
      cluster.primary = await livePrimary(cluster, statuses, act);
      const created: string[] = [];
      for (const replica of act ? cluster.replicas : []) {
        const s = statuses.find((x) => x.name === replica.name);
        if (s?.reachable) {
          // A replica that streams under another name (made by hand, or by pg_basebackup without datakeep) would
          // never count as a synchronous standby: it is re-pointed with its member name and a slot of its own.
          if (s.role === 'replica' && (s.streamState === undefined || s.streamState === 'disconnected')) await driver.repoint(replica, cluster.primary, { timeoutMs: cluster.stepTimeout * 2 });
          continue;
        }
        if (replica.dataDir === undefined || !isEmptyDirectory(replica.dataDir)) continue;
        await driver.createReplica(cluster.primary, replica, { slot: slotName(replica.name), timeoutMs: Math.max(120_000, cluster.failoverTimeout) });
        created.push(replica.name);
      }
      if (act) await driver.configureSync(cluster.primary, cluster.syncSettingsFor(cluster.primary), { timeoutMs: cluster.stepTimeout });
      await cluster.routeWrites(cluster.primary, { timeoutMs: cluster.stepTimeout });
      this.#cluster = cluster;
      if (authority && act) {
        this.#watch = new ReplicationWatch(cluster, authority, section.automaticFailover ?? true);
        await this.#watch.start();
      }
      if (act) this.#follow = await followEngine(cluster);
      const status = await this.status();
      if (act) await cluster.record({ kind: 'setup', to: cluster.primary.name, steps: [], warnings: status.problems, outcome: 'done', at: new Date(), durationMs: 0, epoch: cluster.epoch });
      return { database: config.id, primary: cluster.primary.name, created, status };
    } catch (error) {
      this.#cluster = undefined;
      await Promise.allSettled([this.#watch?.stop(), this.#follow?.stop(), authority?.close()]);
      this.#watch = undefined;
      this.#follow = undefined;
      throw error;
    }
  }

  /** The cluster from setupReplication, else from the config file's `replication` section (the CLI's way in). */
  async #ensure(): Promise<ReplicatedCluster> {
    if (this.#cluster) return this.#cluster;
    if (this.#setup) {
      await this.#setup;
      if (this.#cluster) return this.#cluster;
    }
    const section = this.configuration().replication;
    if (section === undefined) {
      throw new LifecycleError('replication is not set up: call setupReplication({enabled, mode, replicas}) or add a "replication" section to the config file');
    }
    const run = this.#open(section as ReplicationConfig, false);
    this.#setup = run.catch(() => (this.#setup = undefined));
    await run;
    return this.#cluster!;
  }

  #member(cluster: ReplicatedCluster, target: string | undefined): string | undefined {
    if (target === undefined) return undefined;
    const node = findMember(cluster.nodes, target);
    if (!node) throw new UsageError('target', `"${target}" is not a member of ${cluster.database}'s replication. Members: ${cluster.nodes.map((n) => `${n.name} (${n.host}:${n.port})`).join(', ')}`);
    return node.name;
  }

  /** Runs a change of primary holding the authority's lease (campaigning for it when this instance is not the holder). */
  async #asLeader<T>(cluster: ReplicatedCluster, fn: () => Promise<T>): Promise<T> {
    if (!cluster.authority || (cluster.leadership && !cluster.leadership.lost.aborted)) return fn();
    const ttlMs = cluster.section.authority?.leaseTtl ?? 10_000;
    const leadership = await cluster.authority.campaign(this.#holder, { ttlMs, timeoutMs: ttlMs * 2 }).catch(async (error: unknown) => {
      const holder = await cluster.authority!.leader({ timeoutMs: cluster.stepTimeout }).catch(() => undefined);
      throw new ReplicationError('not-leader', `another datakeep instance${holder ? ` (${holder})` : ''} holds ${cluster.database}'s failover lease; run this there, or stop it first`, { cause: error, step: 'campaign' });
    });
    cluster.leadership = leadership;
    try {
      return await fn();
    } finally {
      if (!this.#watch?.leading) {
        cluster.leadership = undefined;
        await leadership.resign().catch(() => undefined);
      }
    }
  }

  #describe(cluster: ReplicatedCluster, statuses: readonly NodeStatus[]): ReplicationStatus {
    const settings = cluster.syncSettingsFor(cluster.primary);
    const sync = statuses.filter((s) => s.name !== cluster.primary.name && (s.syncState === 'sync' || s.syncState === 'quorum')).map((s) => s.name);
    const problems: string[] = [];
    const primary = statuses.find((s) => s.name === cluster.primary.name);
    if (statuses.length && !primary?.reachable) problems.push(`the primary ${cluster.primary.name} is unreachable${primary?.error ? `: ${primary.error}` : ''}`);
    for (const s of statuses) {
      if (s.name === cluster.primary.name) continue;
      if (!s.reachable) problems.push(`replica ${s.name} is unreachable`);
      else if (s.role === 'primary') problems.push(`${s.name} is a primary too: fenced from routing; rejoin it as a replica`);
      else if (s.streamState === undefined || s.streamState === 'disconnected') problems.push(`replica ${s.name} is not streaming from ${cluster.primary.name}`);
    }
    if (settings.mode === 'sync' && statuses.length && sync.length < settings.count) {
      problems.push(`sync mode needs ${settings.count} synchronous standby(s) and ${sync.length} confirm: commits wait until one is back${cluster.section.degradeToAsyncAfter !== undefined ? ` (or degrade to async after ${cluster.section.degradeToAsyncAfter} ms)` : ''}`);
    }
    return {
      database: cluster.database,
      mode: cluster.section.mode,
      degraded: cluster.degraded,
      primary: cluster.primary.name,
      epoch: cluster.epoch,
      nodes: statuses,
      syncStandbys: sync,
      authority: cluster.authority ? { description: cluster.authority.description, leader: this.#watch?.leading ?? false, holder: this.#watch?.holder } : undefined,
      problems,
    };
  }
}

/** The configuration of the replicated database: `database` when given, else the first whose engine replicates. */
function primaryConfig(configuration: ResolvedDatakeepConfig, id: string | undefined): ResolvedDatabaseConfig {
  if (id !== undefined) {
    const found = configuration.databases.find((d) => d.id === id);
    if (!found) throw new UnknownAdapterError(id, configuration.databases.map((d) => d.id));
    return found;
  }
  const found = configuration.databases.find((d) => getEngine(d.type).parts.replication !== undefined);
  if (!found) throw new ReplicationError('refused', `no configured database can replicate (engines with replication: ${enginesWith('replication').join(', ')})`, { step: 'setup' });
  return found;
}

/**
 * The member that is the primary now: the authority's record when there is one; else the one member that answers
 * as a primary. With none answering (the primary is down), a command that only looks or fails over takes the
 * primary of the last switchover or failover recorded in the audit log, else the configured one; setup refuses.
 */
async function livePrimary(cluster: ReplicatedCluster, statuses: readonly NodeStatus[], act: boolean): Promise<ReplicationNode> {
  const primaries = statuses.filter((s) => s.reachable && s.role === 'primary');
  const record = cluster.authority ? await cluster.authority.read({ timeoutMs: cluster.stepTimeout }) : undefined;
  if (record) {
    cluster.epoch = record.epoch;
    return cluster.node(record.primary);
  }
  const last = await lastRecordedPrimary(cluster);
  if (last) cluster.epoch = last.epoch;
  if (primaries.length === 1) return cluster.node(primaries[0]!.name);
  if (primaries.length === 0 && !act) return cluster.nodes.find((n) => n.name === last?.primary) ?? cluster.members.configuredPrimary;
  if (primaries.length > 1) {
    throw new ReplicationError('split-brain', `${primaries.map((p) => p.name).join(' and ')} both accept writes; fence one (make it a replica) before setting up replication`, { step: 'setup' });
  }
  const configured = statuses.find((s) => s.name === cluster.members.configuredPrimary.name);
  void last;
  throw new ReplicationError('unreachable', `no member is a reachable primary (${cluster.members.configuredPrimary.name}: ${configured?.error ?? configured?.role ?? 'no answer'})`, { node: cluster.members.configuredPrimary.name, step: 'setup' });
}

/** The authority, loaded on first use (etcd3 brings gRPC, which nothing else needs). */
/** The newest change of primary of this database in the audit log (any instance's, through a shared state store). */
async function lastRecordedPrimary(cluster: ReplicatedCluster): Promise<{ primary: string; epoch: number } | undefined> {
  try {
    const entries = await (await cluster.state()).auditLog(200);
    for (const entry of entries) {
      const d = entry.details as { kind?: string; outcome?: string; to?: string; epoch?: number };
      if (entry.target === cluster.database && d.outcome === 'done' && ['switchover', 'failover', 'manual-failover', 'setup'].includes(d.kind ?? '') && d.to) {
        return { primary: d.to, epoch: d.epoch ?? 0 };
      }
    }
  } catch (error) {
    cluster.logger.log('warn', 'could not read the audit log for the last primary', { database: cluster.database, error: (error as Error).message });
  }
  return undefined;
}

async function openAuthority(config: NonNullable<ReplicationConfig['authority']>, database: string, logger: Logger): Promise<FailoverAuthority> {
  const { EtcdAuthority } = await import('./etcd-authority.js');
  return new EtcdAuthority({ ...config, cluster: config.cluster ?? database }, { logger });
}

/** A data directory that is missing or empty: a replica to create (the driver creates it with the right owner). */
function isEmptyDirectory(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

/** A replication slot name for a member: lower case, [a-z0-9_], prefixed so datakeep's slots are recognisable. */
export function slotName(member: string): string {
  return `datakeep_${member.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}
