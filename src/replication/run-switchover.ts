import { ReplicationError } from '../errors/index.js';
import { candidateFor, exclusively, followNewPrimary, type FailoverResult } from './run-failover.js';
import { StepClock, type ReplicatedCluster, type ReplicationEvent } from './replicated-cluster.js';

export interface SwitchoverOptions {
  /** The member to promote; default the best candidate. */
  readonly target?: string;
  readonly dryRun?: boolean;
}

/**
 * Switchover, planned and without loss: the primary stops taking writes, the candidate replays everything up to
 * that point, then it is published and promoted, writes follow it, the other replicas are re-pointed and the old
 * primary rejoins as a replica. If the candidate does not catch up in time, the old primary takes writes again and
 * nothing changed. Engines with a switchover of their own (Redis FAILOVER, MongoDB replSetStepDown) run theirs.
 */
export async function runSwitchover(cluster: ReplicatedCluster, options: SwitchoverOptions): Promise<FailoverResult> {
  return exclusively(cluster, 'switchover', async () => {
    const clock = new StepClock();
    const driver = cluster.driver;
    const timeoutMs = cluster.stepTimeout;
    const old = cluster.primary;
    const statuses = await clock.run('check members', () => driver.status(cluster.nodes, { timeoutMs }));
    const oldStatus = statuses.find((s) => s.name === old.name);
    if (!oldStatus?.reachable || oldStatus.role !== 'primary') {
      throw new ReplicationError('not-a-primary', `${old.name} is not a reachable primary (${oldStatus?.error ?? oldStatus?.role ?? 'no status'}), so a switchover cannot wait for the replicas to catch up; use failover`, { node: old.name, step: 'check members' });
    }
    cluster.sight(statuses);
    const choice = candidateFor(cluster, statuses, { target: options.target, lastPosition: oldStatus.position, planned: true });
    const candidate = choice.node;
    const warnings = [...choice.warnings];
    const event = (outcome: ReplicationEvent['outcome'], epoch?: number, error?: string): ReplicationEvent => ({
      kind: 'switchover', from: old.name, to: candidate.name, epoch, steps: clock.steps, warnings, outcome, error, at: new Date(), durationMs: clock.elapsed,
    });
    if (options.dryRun) {
      const steps = [
        { step: 'stop writes', detail: `${old.name}: ${old.dataDir ? 'clean shutdown (its replicas receive everything up to the shutdown checkpoint)' : 'read-only, sessions ended'}` },
        { step: 'wait for replay', detail: `${candidate.name} replays up to the position writes stopped at` },
        { step: 'publish new primary', detail: cluster.authority ? `through ${cluster.authority.description}` : 'no authority configured' },
        { step: 'promote', detail: candidate.name },
        { step: 'route writes and re-point replicas', detail: cluster.nodes.filter((n) => n.name !== old.name && n.name !== candidate.name).map((n) => n.name).join(', ') || 'no other replicas' },
        { step: 'rejoin old primary', detail: old.dataDir ? `${old.name} as a replica of ${candidate.name}` : `${old.name} left read-only (no local data directory to restart it as a replica)` },
      ].map((s) => ({ ...s, ms: 0 }));
      await cluster.record(event('dry-run'));
      return { from: old.name, to: candidate.name, epoch: undefined, dryRun: true, steps, considered: choice.considered, warnings, durationMs: clock.elapsed };
    }
    if (driver.nativeSwitchover !== undefined) return native(cluster, clock, candidate.name, choice.considered, warnings, event);

    let epoch: number | undefined;
    let promoted = false;
    try {
      const stopped = await clock.run('stop writes', () => driver.stopWrites(old, { timeoutMs: cluster.failoverTimeout }), (s) => `at ${s.position}`);
      try {
        await clock.run('wait for replay', () => driver.waitForReplay(candidate, stopped.position, { timeoutMs: cluster.failoverTimeout }));
        const settings = cluster.syncSettingsFor(candidate);
        if (settings.mode === 'sync') await clock.run('sync settings on candidate', () => driver.configureSync(candidate, settings, { timeoutMs }));
        epoch = await clock.run('publish new primary', () => cluster.publish({ primary: candidate.name, fenced: [old.name], reason: 'switchover', position: stopped.position }), (e) => `epoch ${e}`);
      } catch (error) {
        // Nothing was promoted: the old primary takes writes again, and the switchover is reported as failed.
        await driver.resumeWrites(old, { timeoutMs: cluster.failoverTimeout }).catch((resumeError: unknown) => warnings.push(`${old.name} could not take writes again: ${(resumeError as Error).message}`));
        throw error;
      }
      await clock.run('promote', () => driver.promote(candidate, { timeoutMs: cluster.failoverTimeout }), (p) => `timeline ${p.timeline ?? '-'} at ${p.position}`);
      promoted = true;
      cluster.primary = candidate;
      cluster.lastSeen = undefined;
      await clock.run('route writes and re-point replicas', () => followNewPrimary(cluster, candidate, old, warnings));
      if (old.dataDir !== undefined) {
        await clock.run('rejoin old primary', () => driver.rejoin(old, candidate, { timeoutMs: Math.max(60_000, cluster.failoverTimeout) }), (r) => (r.rewound ? 'rewound' : 'no rewind needed'));
      } else {
        const fence = await clock.run('fence old primary', () => driver.fence(old, candidate, { timeoutMs }), (r) => r.actions.join(', '));
        warnings.push(`${old.name} is left read-only (${fence.actions.join(', ')}); it has no local data directory, so restart it as a replica of ${candidate.name} by hand`);
      }
      await cluster.record(event('done', epoch));
      return { from: old.name, to: candidate.name, epoch, dryRun: false, steps: clock.steps, considered: choice.considered, warnings, durationMs: clock.elapsed };
    } catch (error) {
      if (promoted) warnings.push(`${candidate.name} is the primary now; the step that failed came after the promotion`);
      await cluster.record(event('failed', epoch, (error as Error).message));
      throw error;
    }
  });
}

async function native(
  cluster: ReplicatedCluster,
  clock: StepClock,
  target: string,
  considered: FailoverResult['considered'],
  warnings: string[],
  event: (outcome: ReplicationEvent['outcome'], epoch?: number, error?: string) => ReplicationEvent,
): Promise<FailoverResult> {
  const old = cluster.primary;
  const candidate = cluster.node(target);
  try {
    await clock.run('engine switchover', () => cluster.driver.nativeSwitchover!(old, candidate, { timeoutMs: cluster.failoverTimeout }));
    cluster.primary = candidate;
    const epoch = await cluster.publish({ primary: candidate.name, fenced: [], reason: 'switchover' });
    await clock.run('route writes', () => cluster.routeWrites(candidate, { timeoutMs: cluster.failoverTimeout }));
    await cluster.record(event('done', epoch));
    return { from: old.name, to: candidate.name, epoch, dryRun: false, steps: clock.steps, considered, warnings, durationMs: clock.elapsed };
  } catch (error) {
    await cluster.record(event('failed', undefined, (error as Error).message));
    throw error;
  }
}
