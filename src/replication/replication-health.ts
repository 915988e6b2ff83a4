import type { HealthStatus } from '../adapters/health-status.js';
import type { ReplicationStatus } from './replication-manager.js';

/**
 * The primary adapter's health with replication facts added: each member's role, lag and stream state under
 * `details.replication`, and `degraded` with the reasons when a replica is down or behind, or sync mode has no
 * synchronous standby (commits wait). An unhealthy adapter stays unhealthy.
 */
export function replicationHealth(health: HealthStatus, status: ReplicationStatus): HealthStatus {
  const replication = {
    mode: status.mode,
    degradedToAsync: status.degraded,
    primary: status.primary,
    epoch: status.epoch,
    syncStandbys: status.syncStandbys,
    authority: status.authority,
    members: status.nodes.map((n) => ({
      name: n.name,
      reachable: n.reachable,
      role: n.role,
      streamState: n.streamState,
      syncState: n.syncState,
      lagBytes: n.lag?.replayBytes,
      lagSeconds: n.lag?.replaySeconds,
      error: n.error,
    })),
  };
  const problems = status.problems;
  return {
    ...health,
    status: health.status === 'unhealthy' ? 'unhealthy' : problems.length > 0 ? 'degraded' : health.status,
    reasons: [...health.reasons, ...problems],
    details: { ...health.details, replication },
  };
}
