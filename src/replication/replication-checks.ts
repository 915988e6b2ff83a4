import { REPLICATION_DEFAULTS } from '../config/replication-config.js';
import { systemCheck, type SystemCheck } from '../monitoring/system-check.js';
import type { ReplicatedCluster } from './replicated-cluster.js';
import type { ReplicationStatus } from './replication-manager.js';

/**
 * `replication:<database>` (the problems the status found, as warnings: a replica down, sync mode degraded, no
 * authority) and `replication:lag:<replica>` per replica: an error when it does not replicate (unreachable, or not
 * streaming), a warning when it is further behind than maximumLagOnFailover (a failover to it would be refused, or
 * lose those bytes with --force).
 */
export function replicationChecks(cluster: ReplicatedCluster, status: ReplicationStatus | { problems: readonly string[]; nodes?: undefined }): SystemCheck[] {
  const checks = [systemCheck(`replication:${cluster.database}`, status.problems.length ? 'warn' : 'ok', status.problems.join('; ') || `primary ${cluster.primary.name}, all members replicating`)];
  const maximumLag = cluster.section.maximumLagOnFailover ?? REPLICATION_DEFAULTS.maximumLagOnFailover;
  for (const node of status.nodes ?? []) {
    if (node.name === cluster.primary.name) continue;
    const name = `replication:lag:${node.name}`;
    const lag = node.lag?.replayBytes;
    const seconds = node.lag?.replaySeconds;
    const figures = `${lag ?? '?'} bytes${seconds === undefined ? '' : `, ${seconds} s`} behind`;
    if (!node.reachable) checks.push(systemCheck(name, 'error', `unreachable: ${node.error ?? 'no answer'}`));
    else if (node.role !== 'replica' || (node.streamState !== undefined && node.streamState !== 'streaming')) checks.push(systemCheck(name, 'error', `not replicating (role ${node.role}, stream ${node.streamState ?? 'unknown'})`));
    else if (lag !== undefined && lag > maximumLag) checks.push(systemCheck(name, 'warn', `${figures}, more than maximumLagOnFailover (${maximumLag} bytes): a failover to it would be refused`));
    else checks.push(systemCheck(name, 'ok', figures));
  }
  return checks;
}
