import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReplicatedCluster } from './replicated-cluster.js';
import type { ReplicationWatch } from './replication-watch.js';

/**
 * Replication series on the DataManager's registry, read from the last member statuses when scraped: lag per
 * replica in bytes and seconds, synchronous standbys confirming, whether this instance holds the failover lease,
 * and changes of primary by kind and outcome. Labels: database_id and replica (member names, a handful per
 * database), never positions or ids.
 */
export function registerReplicationMetrics(registry: Registry, cluster: () => ReplicatedCluster | undefined, watch: () => ReplicationWatch | undefined): void {
  new Gauge({
    name: 'datakeep_replication_lag_bytes',
    help: 'Bytes of WAL (or the engine\'s log) a replica has not replayed yet, as of the last check',
    labelNames: ['database_id', 'replica'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      for (const s of c?.lastStatuses ?? []) if (s.lag?.replayBytes !== undefined && s.name !== c!.primary.name) this.set({ database_id: c!.database, replica: s.name }, s.lag.replayBytes);
    },
  });
  new Gauge({
    name: 'datakeep_replication_lag_seconds',
    help: 'Seconds a replica\'s replay is behind (0 when caught up, also on an idle primary), as of the last check',
    labelNames: ['database_id', 'replica'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      for (const s of c?.lastStatuses ?? []) if (s.lag?.replaySeconds !== undefined && s.name !== c!.primary.name) this.set({ database_id: c!.database, replica: s.name }, s.lag.replaySeconds);
    },
  });
  new Gauge({
    name: 'datakeep_replication_replica_up',
    help: '1 when the member answered the last check as a streaming replica, else 0',
    labelNames: ['database_id', 'replica'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      for (const s of c?.lastStatuses ?? []) if (s.name !== c!.primary.name) this.set({ database_id: c!.database, replica: s.name }, s.reachable && s.role === 'replica' && s.streamState === 'streaming' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'datakeep_replication_sync_standbys',
    help: 'Synchronous standbys confirming commits now (sync mode); below the configured count, commits wait',
    labelNames: ['database_id'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      if (c) this.set({ database_id: c.database }, c.lastStatuses.filter((s) => s.name !== c.primary.name && (s.syncState === 'sync' || s.syncState === 'quorum')).length);
    },
  });
  new Gauge({
    name: 'datakeep_replication_degraded_to_async',
    help: '1 while sync mode runs as async after degradeToAsyncAfter',
    labelNames: ['database_id'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      if (c) this.set({ database_id: c.database }, c.degraded ? 1 : 0);
    },
  });
  new Gauge({
    name: 'datakeep_replication_lease_held',
    help: '1 when this instance holds the failover lease (it watches the primary and may fail over)',
    labelNames: ['database_id'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      if (c) this.set({ database_id: c.database }, watch()?.leading ? 1 : 0);
    },
  });
  new Counter({
    name: 'datakeep_replication_changes_total',
    help: 'Switchovers, failovers, rejoins and fences run by this instance, by kind and outcome',
    labelNames: ['database_id', 'kind', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const c = cluster();
      for (const [key, n] of c?.counts ?? []) {
        const [kind, outcome] = key.split(' ') as [string, string];
        if (kind !== 'setup' && outcome !== 'dry-run') this.inc({ database_id: c!.database, kind, outcome }, n);
      }
    },
  });
}
