import { systemCheck, type SystemCheck } from '../monitoring/system-check.js';
import type { JobRunRecord } from '../scheduler/job-scheduler.js';
import { describeDuration, missedTicks } from '../scheduler/missed-ticks.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';

/** Ticks a policy may miss before it counts as behind: one can be a run skipped while the previous one still went. */
const TICKS_BEHIND = 2;

/**
 * `lifecycle:<policy>` for each policy: its last run failed (an error); it stopped before finishing (the maintenance
 * window closed, another run held the lease), or two or more of its ticks passed without a run (a warning: the data it
 * should remove is piling up); else when it last ran or runs next.
 */
export function lifecycleChecks(policies: readonly LifecyclePolicy[], lastRuns: ReadonlyMap<string, JobRunRecord | undefined>, scheduled: ReadonlyMap<string, Date | null>, now = new Date()): SystemCheck[] {
  return policies.map((policy) => {
    const name = `lifecycle:${policy.name}`;
    const last = lastRuns.get(policy.name);
    if (last?.status === 'failed') return systemCheck(name, 'error', `its last run failed at ${last.startedAt.toISOString()}: ${last.error ?? 'unknown error'}; see datakeep lifecycle history`);
    const outcome = last?.details.outcome;
    if (outcome === 'window-end' || outcome === 'contended') return systemCheck(name, 'warn', `behind its schedule: the last run (${last!.startedAt.toISOString()}) stopped with ${String(outcome)}; the next run continues`);
    if (last) {
      const behind = missedTicks(policy.schedule, policy.timeZone, last.startedAt, now, 60_000);
      if (behind.missed >= TICKS_BEHIND) return systemCheck(name, 'warn', `behind its schedule (${policy.schedule}): no run since ${last.startedAt.toISOString()}, ${behind.missed}${behind.missed === 3 ? ' or more' : ''} ticks missed; is a datakeep service running it?`);
      return systemCheck(name, 'ok', `last run ${last.status} at ${last.startedAt.toISOString()} (${describeDuration(now.getTime() - last.startedAt.getTime())} ago)`);
    }
    const next = scheduled.get(policy.name);
    return systemCheck(name, 'ok', next !== undefined ? `scheduled, no run yet, next run ${next?.toISOString() ?? 'none'}` : 'no run recorded yet, not scheduled in this process');
  });
}
