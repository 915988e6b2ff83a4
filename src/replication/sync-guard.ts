import type { NodeStatus } from './replication-part.js';
import type { ReplicatedCluster } from './replicated-cluster.js';

/**
 * Sync mode never degrades silently. Without `degradeToAsyncAfter`, commits wait while no synchronous standby
 * confirms (PostgreSQL's own behaviour) and health says so. With it, the lease holder switches the primary to async
 * after that long without one, records it in the audit log, and switches back (recorded too) once one streams again.
 */
export class SyncGuard {
  #missingSince: number | undefined;

  constructor(private readonly cluster: ReplicatedCluster) {}

  async check(statuses: readonly NodeStatus[]): Promise<void> {
    const cluster = this.cluster;
    const after = cluster.section.degradeToAsyncAfter;
    if (cluster.section.mode !== 'sync' || after === undefined) return;
    const wanted = cluster.syncSettingsFor(cluster.primary);
    const streaming = statuses.filter((s) => s.name !== cluster.primary.name && s.reachable && s.streamState === 'streaming' && wanted.standbys.includes(s.name));
    const enough = streaming.length >= Math.max(1, cluster.section.syncReplicas ?? 1);
    if (!cluster.degraded) {
      if (enough) {
        this.#missingSince = undefined;
        return;
      }
      this.#missingSince ??= Date.now();
      if (Date.now() - this.#missingSince < after) return;
      await this.#switch(true, `no synchronous standby for ${Date.now() - this.#missingSince} ms (degradeToAsyncAfter ${after} ms)`);
    } else if (enough) {
      await this.#switch(false, `${streaming.map((s) => s.name).join(', ')} streaming again`);
    }
  }

  async #switch(degrade: boolean, why: string): Promise<void> {
    const cluster = this.cluster;
    const started = Date.now();
    cluster.degraded = degrade;
    try {
      const settings = await cluster.driver.configureSync(cluster.primary, cluster.syncSettingsFor(cluster.primary), { timeoutMs: cluster.stepTimeout });
      this.#missingSince = undefined;
      await cluster.record({
        kind: 'degrade-to-async', from: degrade ? 'sync' : 'async', to: degrade ? 'async' : 'sync', epoch: cluster.epoch,
        steps: [{ step: degrade ? 'degrade to async' : 'back to sync', ms: Date.now() - started, detail: `${why}; now ${settings.mode}` }],
        warnings: degrade ? ['commits are acknowledged without a synchronous standby until one is back: a failover now may lose them'] : [],
        outcome: 'done', at: new Date(), durationMs: Date.now() - started,
      });
    } catch (error) {
      cluster.degraded = !degrade;
      cluster.logger.log('error', 'could not change the sync settings', { database: cluster.database, degrade, error: (error as Error).message });
    }
  }
}
