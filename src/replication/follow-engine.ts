import type { ReplicatedCluster } from './replicated-cluster.js';
import type { EngineFollower } from './replication-part.js';

/**
 * Where the engine is its own failover authority (Redis Sentinel), the manager does not fail over: it follows. Each
 * change of primary the engine announces becomes this cluster's primary and a `failover` event in the audit log and
 * the metrics; a former primary fenced on its return becomes a `fence` event. The adapter follows by itself (a
 * Sentinel-mode client asks the Sentinels), so nothing is re-routed here. Undefined when the driver has no such
 * authority or this database is not set up for it.
 */
export async function followEngine(cluster: ReplicatedCluster): Promise<EngineFollower | undefined> {
  const follow = cluster.driver.followEngine;
  if (follow === undefined) return undefined;
  const now = () => ({ steps: [], warnings: [], at: new Date(), durationMs: 0 });
  return follow(cluster.primary, {
    primaryChanged: (address, detail) => {
      const from = cluster.primary.name;
      const node = cluster.nodes.find((n) => n.host === address.host && n.port === address.port);
      if (node !== undefined) cluster.primary = node;
      cluster.lastSeen = undefined;
      const warnings = node === undefined ? [`${address.host}:${address.port} is not a configured member; add it to replication.replicas`] : [];
      void cluster.record({ ...now(), kind: 'failover', from, to: node?.name ?? `${address.host}:${address.port}`, steps: [{ step: 'engine failover', ms: 0, detail }], warnings, outcome: 'done' });
    },
    fenced: (name, result) => {
      void cluster.record({ ...now(), kind: 'fence', to: name, steps: [{ step: 'fence a former primary back as a primary', ms: 0, detail: result.actions.join(', ') }], outcome: 'done' });
    },
    failed: (error) => cluster.logger.log('warn', 'replication: following the engine failed a step', { database: cluster.database, error: error.message }),
  }, { failoverTimeoutMs: cluster.failoverTimeout, timeoutMs: cluster.stepTimeout });
}
