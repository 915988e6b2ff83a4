import { Gauge, type Registry } from 'prom-client';
import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { HealthStatus } from '../adapters/health-status.js';

/**
 * `datakeep_database_up{database_id, engine}`: 1 when the database answered its health probe (healthy or degraded),
 * else 0, probed when scraped (each probe is bounded by the adapter's timeout and never throws).
 */
export function registerHealthMetrics(registry: Registry, adapters: () => readonly DatabaseAdapter[]): void {
  // Concurrent scrapes (a dashboard, Prometheus, 200 at once under load) share the probe in flight: one per database.
  let inFlight: Promise<HealthStatus[]> | undefined;
  const probe = (): Promise<HealthStatus[]> => (inFlight ??= Promise.all(adapters().map((a) => a.health())).finally(() => (inFlight = undefined)));
  new Gauge({
    name: 'datakeep_database_up',
    help: '1 when the database answered its health probe at this scrape (healthy or degraded), 0 when it did not',
    labelNames: ['database_id', 'engine'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await probe()) this.set({ database_id: s.adapterId, engine: s.type }, s.status === 'unhealthy' ? 0 : 1);
    },
  });
}
