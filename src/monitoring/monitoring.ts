import type { AdapterRegistry } from '../adapters/adapter-registry.js';
import type { DatabaseMetrics } from '../adapters/database-metrics.js';
import type { HealthStatus } from '../adapters/health-status.js';
import type { Registry } from 'prom-client';
import { TimeoutError, UsageError } from '../errors/index.js';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import { withTimeout } from '../resilience/with-timeout.js';
import type { JobScheduler } from '../scheduler/job-scheduler.js';
import { registerScheduleMetrics } from '../scheduler/schedule-metrics.js';
import { redactUrlPasswords } from '../util/secrets.js';
import { configCheck, connectivityChecks, stateStoreCheck, type CoreCheckSource } from './core-checks.js';
import { registerHealthMetrics } from './health-metrics.js';
import { systemCheck, type CheckProvider, type SystemCheck } from './system-check.js';
import { systemValidation, type SystemValidation } from './system-validation.js';
import { optionalEnginePart } from '../engines/engine-registry.js';
import type { StatementStats } from './statement-stats-part.js';

/** What monitoring reads of an initialized DataManager besides its adapters. */
export interface MonitoredContext extends CoreCheckSource {
  /** The scheduler when one was started (never created just to be read). */
  readonly runningScheduler: JobScheduler | undefined;
}

/**
 * How long one check provider may take before its checks are replaced by an error naming it: long enough to open the
 * repositories of a few databases, short enough that `datakeep validate` and the service's route always answer.
 */
const PROVIDER_TIMEOUT_MS = 60_000;

/** Health, metrics and system validation over every configured adapter (`dm.monitoring`). */
export class Monitoring {
  constructor(
    private readonly adapters: () => AdapterRegistry,
    /** Subsystems' checks for validate() (migrations, backups, distributed transactions, lifecycle, replication). */
    private readonly providers: readonly CheckProvider[] = [],
    private readonly prometheus: MetricsRegistry = new MetricsRegistry(),
    /** Subsystems that add facts to an adapter's health (replication: roles, lag, sync standbys). */
    private readonly healthDecorators: readonly ((statuses: Map<string, HealthStatus>) => Promise<void>)[] = [],
    /** The initialized DataManager's context, or undefined before initialize and after close. */
    private readonly context: () => MonitoredContext | undefined = () => undefined,
  ) {
    registerHealthMetrics(prometheus.registry, () => {
      try {
        return this.adapters().all();
      } catch {
        return []; // before initialize or after close: no database, no series
      }
    });
    registerScheduleMetrics(prometheus.registry, () => this.context()?.runningScheduler);
  }

  /**
   * The prom-client Registry of this DataManager (its own, not prom-client's global default): mount it on a
   * `/metrics` endpoint, or merge it with others with `Registry.merge`. Names and labels: docs/monitoring.md.
   */
  registry(): Registry {
    return this.prometheus.registry;
  }

  /** The Prometheus text exposition of every adapter's metrics; serve it with `metricsContentType`. */
  metricsText(): Promise<string> {
    return this.prometheus.metricsText();
  }

  get metricsContentType(): string {
    return this.prometheus.contentType;
  }

  /** Probes every adapter in parallel; an adapter that fails its probe is reported unhealthy, never thrown. */
  async health(): Promise<Map<string, HealthStatus>> {
    const adapters = this.adapters().all();
    const statuses = await Promise.all(adapters.map((a) => a.health()));
    const byId = new Map(statuses.map((s) => [s.adapterId, s]));
    for (const decorate of this.healthDecorators) await decorate(byId);
    return byId;
  }

  metrics(): Map<string, DatabaseMetrics> {
    return new Map(this.adapters().all().map((a) => [a.id, a.metrics()]));
  }

  /**
   * The statements that took the most execution time on one database (PgHero's view), from the engine's statistics;
   * `available: false` with the reason (and how to turn them on) where there are none. `limit` is 1..500.
   */
  async statements(databaseId: string, limit = 20): Promise<StatementStats> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('limit', `must be a whole number from 1 to 500, got ${String(limit)}`);
    const adapter = this.adapters().get(databaseId);
    const part = optionalEnginePart(adapter, 'statements');
    if (!part) return { available: false, reason: `${adapter.type} keeps no statement statistics that datakeep reads` };
    return part.slowest(adapter, limit);
  }


  /**
   * Every check, named, with a status and a detail: the configuration, each database's connectivity, the state store's
   * schema, then each subsystem's own (migrations, backups, transactions, lifecycle, replication), run in parallel.
   * A provider that throws or takes longer than a minute yields one error check naming it; this never throws once
   * the DataManager is initialized.
   */
  async validate(): Promise<SystemValidation> {
    const checkedAt = new Date();
    const context = this.context();
    const [statuses, state, ...provided] = await Promise.all([
      this.health(),
      context ? guarded('state-store', () => stateStoreCheck(context).then((c) => [c])) : Promise.resolve([]),
      ...this.providers.map((p) => guarded(p.name, () => p.checks())),
    ]);
    const checks: SystemCheck[] = [...(context ? [configCheck(context)] : []), ...connectivityChecks(statuses.values()), ...state, ...provided.flat()];
    return systemValidation(checks, checkedAt);
  }
}

async function guarded(name: string, run: () => Promise<readonly SystemCheck[]>): Promise<readonly SystemCheck[]> {
  try {
    return await withTimeout(run, PROVIDER_TIMEOUT_MS, () => new TimeoutError('operation', `the ${name} checks did not finish within ${PROVIDER_TIMEOUT_MS / 1000} s`, { timeoutMs: PROVIDER_TIMEOUT_MS }));
  } catch (error) {
    return [systemCheck(name, 'error', `the check failed: ${redactUrlPasswords((error as Error).message)}`)];
  }
}
