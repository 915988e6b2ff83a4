import { ReplicationError } from '../errors/index.js';
import { REPLICATION_DEFAULTS } from '../config/replication-config.js';
import { chooseCandidate, type CandidateChoice, type ConsideredMember } from './choose-candidate.js';
import { StepClock, type ReplicatedCluster, type ReplicationEvent } from './replicated-cluster.js';
import type { NodeStatus, ReplicationNode } from './replication-part.js';

export interface FailoverOptions {
  /** The member to promote (a name or host:port); default the best candidate. */
  readonly target?: string;
  /** Promote even when acknowledged writes may be lost (no synchronous standby reachable, a target behind another). */
  readonly force?: boolean;
  /** Say what would happen, change nothing. */
  readonly dryRun?: boolean;
  readonly reason: 'failover' | 'manual-failover';
}

/** What a switchover or failover did (or, in a dry run, would do). */
export interface FailoverResult {
  readonly from: string;
  readonly to: string;
  readonly epoch: number | undefined;
  readonly dryRun: boolean;
  /** The steps in order, as planned (dry run) or as done, with their durations. */
  readonly steps: readonly { step: string; ms: number; detail?: string }[];
  readonly considered: readonly ConsideredMember[];
  readonly warnings: readonly string[];
  readonly durationMs: number;
}

/** Runs `fn` with the cluster marked busy, so that two changes of primary never interleave in one instance. */
export async function exclusively<T>(cluster: ReplicatedCluster, what: string, fn: () => Promise<T>): Promise<T> {
  if (cluster.busy !== undefined) {
    throw new ReplicationError('refused', `a ${cluster.busy} of ${cluster.database} is already running; wait for it to finish`, { step: what });
  }
  cluster.busy = what;
  try {
    return await fn();
  } finally {
    cluster.busy = undefined;
  }
}

/** The candidate for replacing the current primary, from the members' status now. */
export function candidateFor(cluster: ReplicatedCluster, statuses: readonly NodeStatus[], options: { target?: string; force?: boolean; planned?: boolean; lastPosition?: string }): CandidateChoice {
  const settings = cluster.syncSettingsFor(cluster.primary);
  return chooseCandidate({
    nodes: cluster.nodes,
    statuses,
    oldPrimary: cluster.primary.name,
    lastPrimaryPosition: options.lastPosition ?? cluster.lastSeen?.position,
    mode: settings.mode,
    syncMethod: settings.method,
    syncCount: settings.count,
    lastSyncStandbys: cluster.lastSeen?.syncStandbys ?? [],
    syncEligible: settings.standbys,
    maximumLag: cluster.section.maximumLagOnFailover ?? REPLICATION_DEFAULTS.maximumLagOnFailover,
    regions: cluster.section.failoverRegions,
    target: options.target,
    force: options.force,
    planned: options.planned,
    compare: (a, b) => cluster.driver.comparePositions(a, b),
    distance: (from, to) => cluster.driver.distance(from, to),
  });
}

/**
 * Failover: the primary is down (or declared so by hand). The old primary is fenced first (it must not take writes
 * when it comes back), the candidate gets the sync settings it will need as a primary, the new primary is published
 * through the authority's lease (the fencing token: an instance that lost the lease cannot get here), then promoted;
 * the write adapter follows it and the other replicas are re-pointed. The old primary rejoins as a replica in the
 * background when its data directory is on this machine.
 */
export async function runFailover(cluster: ReplicatedCluster, options: FailoverOptions): Promise<FailoverResult> {
  return exclusively(cluster, 'failover', async () => {
    const clock = new StepClock();
    const driver = cluster.driver;
    const timeoutMs = cluster.stepTimeout;
    const old = cluster.primary;
    const statuses = await clock.run('check members', () => driver.status(cluster.nodes, { timeoutMs }));
    const oldStatus = statuses.find((s) => s.name === old.name);
    if (oldStatus?.reachable && oldStatus.role === 'primary' && options.reason === 'failover') {
      throw new ReplicationError('refused', `${old.name} answers again as the primary; no failover`, { node: old.name, step: 'check members' });
    }
    if (oldStatus?.reachable && oldStatus.role === 'replica' && options.reason === 'failover' && cluster.epoch > 0) {
      // The record names a replica as the primary: an instance published it and died before (or while) promoting.
      // It was the best candidate then and nothing was promoted since, so the failover is finished, not restarted.
      return finishInterruptedPromotion(cluster, clock, statuses);
    }
    const choice = candidateFor(cluster, statuses, { target: options.target, force: options.force });
    const candidate = choice.node;
    const warnings = [...choice.warnings];
    const event = (outcome: ReplicationEvent['outcome'], epoch?: number, error?: string): ReplicationEvent => ({
      kind: options.reason, from: old.name, to: candidate.name, epoch, steps: clock.steps, warnings, outcome, error, at: new Date(), durationMs: clock.elapsed,
    });
    if (options.dryRun) {
      const plan = failoverPlan(cluster, old, candidate, oldStatus);
      await cluster.record(event('dry-run'));
      return { from: old.name, to: candidate.name, epoch: undefined, dryRun: true, steps: plan, considered: choice.considered, warnings, durationMs: clock.elapsed };
    }
    let epoch: number | undefined;
    try {
      // A node that did not answer the check is fenced offline only: waiting for its connect timeout again would
      // only delay the failover.
      const fence = await clock.run('fence old primary', () => driver.fence(old, candidate, { timeoutMs: oldStatus?.reachable ? timeoutMs : 500 }), (r) => r.actions.join(', ') || 'nothing possible');
      if (!fence.durable) warnings.push(`${old.name} could not be fenced durably (not reachable and no local data directory): datakeep never routes to it, but check that it stays down or comes back read-only`);
      const settings = cluster.syncSettingsFor(candidate);
      if (settings.mode === 'sync') {
        // Before the promotion, so that no commit on the new primary is acknowledged without a synchronous standby.
        await clock.run('sync settings on candidate', () => driver.configureSync(candidate, settings, { timeoutMs }), (s) => `${s.method} ${s.count} (${s.standbys.join(', ')})`);
      }
      epoch = await clock.run('publish new primary', () => cluster.publish({ primary: candidate.name, fenced: [old.name], reason: options.reason, position: choice.position }), (e) => `epoch ${e}`);
      const promoted = await clock.run('promote', () => driver.promote(candidate, { timeoutMs: cluster.failoverTimeout }), (p) => `timeline ${p.timeline ?? '-'} at ${p.position}`);
      cluster.primary = candidate;
      cluster.lastSeen = undefined;
      await clock.run('route writes and re-point replicas', () => followNewPrimary(cluster, candidate, old, warnings), () => `${cluster.replicas.filter((r) => r.name !== old.name).length} replica(s)`);
      void promoted;
      await cluster.record(event('done', epoch));
      if ((cluster.section.rejoinOldPrimary ?? true) && old.dataDir !== undefined) void rejoinInBackground(cluster, old, candidate);
      return { from: old.name, to: candidate.name, epoch, dryRun: false, steps: clock.steps, considered: choice.considered, warnings, durationMs: clock.elapsed };
    } catch (error) {
      await cluster.record(event('failed', epoch, (error as Error).message));
      throw error;
    }
  });
}

/**
 * The rest of a failover whose instance died after publishing the new primary: promote it, route writes to it,
 * re-point the other members. No new epoch: the record already names it.
 */
async function finishInterruptedPromotion(cluster: ReplicatedCluster, clock: StepClock, statuses: readonly NodeStatus[]): Promise<FailoverResult> {
  const candidate = cluster.primary;
  const warnings: string[] = [];
  const fenced = cluster.nodes.filter((n) => n.name !== candidate.name && statuses.some((s) => s.name === n.name && s.reachable && s.role === 'primary'));
  const event = (outcome: ReplicationEvent['outcome'], error?: string): ReplicationEvent => ({
    kind: 'failover', from: fenced[0]?.name, to: candidate.name, epoch: cluster.epoch, steps: clock.steps, warnings, outcome, error, at: new Date(), durationMs: clock.elapsed,
  });
  try {
    // Another member answering as a primary would be the old one back: fenced before anything is promoted.
    for (const stray of fenced) await clock.run(`fence ${stray.name}`, () => cluster.driver.fence(stray, candidate, { timeoutMs: cluster.stepTimeout }));
    await clock.run('promote (interrupted failover)', () => cluster.driver.promote(candidate, { timeoutMs: cluster.failoverTimeout }), (p) => `timeline ${p.timeline ?? '-'} at ${p.position}`);
    cluster.lastSeen = undefined;
    await clock.run('route writes and re-point replicas', () => followNewPrimary(cluster, candidate, candidate, warnings));
    await cluster.record(event('done'));
    return { from: fenced[0]?.name ?? '(interrupted)', to: candidate.name, epoch: cluster.epoch, dryRun: false, steps: clock.steps, considered: [], warnings, durationMs: clock.elapsed };
  } catch (error) {
    await cluster.record(event('failed', (error as Error).message));
    throw error;
  }
}

/** Points the write adapter at the new primary and the other replicas at it, in parallel; a replica that fails is a warning. */
export async function followNewPrimary(cluster: ReplicatedCluster, primary: ReplicationNode, old: ReplicationNode, warnings: string[]): Promise<void> {
  const timeoutMs = cluster.stepTimeout;
  const others = cluster.nodes.filter((n) => n.name !== primary.name && n.name !== old.name);
  const results = await Promise.allSettled([
    cluster.routeWrites(primary, { timeoutMs: cluster.failoverTimeout }),
    ...others.map((r) => cluster.driver.repoint(r, primary, { timeoutMs })),
  ]);
  const [routed, ...repointed] = results;
  if (routed!.status === 'rejected') throw routed!.reason;
  repointed.forEach((r, i) => {
    if (r.status === 'rejected') warnings.push(`${others[i]!.name} was not re-pointed to ${primary.name}: ${(r.reason as Error).message}`);
  });
}

async function rejoinInBackground(cluster: ReplicatedCluster, old: ReplicationNode, primary: ReplicationNode): Promise<void> {
  const clock = new StepClock();
  try {
    const result = await clock.run('rejoin', () => cluster.driver.rejoin(old, primary, { timeoutMs: Math.max(60_000, cluster.failoverTimeout) }), (r) => (r.rewound ? 'rewound' : 'no rewind needed'));
    await cluster.record({ kind: 'rejoin', from: old.name, to: primary.name, steps: clock.steps, warnings: [], outcome: 'done', at: new Date(), durationMs: clock.elapsed, epoch: cluster.epoch });
    void result;
  } catch (error) {
    await cluster.record({ kind: 'rejoin', from: old.name, to: primary.name, steps: clock.steps, warnings: [], outcome: 'failed', error: (error as Error).message, at: new Date(), durationMs: clock.elapsed, epoch: cluster.epoch });
  }
}

function failoverPlan(cluster: ReplicatedCluster, old: ReplicationNode, candidate: ReplicationNode, oldStatus: NodeStatus | undefined): { step: string; ms: number; detail?: string }[] {
  const settings = cluster.syncSettingsFor(candidate);
  const others = cluster.nodes.filter((n) => n.name !== candidate.name && n.name !== old.name).map((n) => n.name);
  const steps = [
    { step: 'fence old primary', detail: `${old.name}: ${oldStatus?.reachable ? 'read-only and sessions ended' : 'down'}${old.dataDir ? '; configured to restart as a replica' : '; no local data directory'}` },
    ...(settings.mode === 'sync' ? [{ step: 'sync settings on candidate', detail: `${settings.method.toUpperCase()} ${settings.count} (${settings.standbys.join(', ')})` }] : []),
    { step: 'publish new primary', detail: cluster.authority ? `through ${cluster.authority.description}` : 'no authority configured' },
    { step: 'promote', detail: candidate.name },
    { step: 'route writes and re-point replicas', detail: others.length ? others.join(', ') : 'no other replicas' },
    ...((cluster.section.rejoinOldPrimary ?? true) && old.dataDir ? [{ step: 'rejoin old primary', detail: `${old.name} as a replica of ${candidate.name} (pg_rewind when it diverged)` }] : []),
  ];
  return steps.map((s) => ({ ...s, ms: 0 }));
}
