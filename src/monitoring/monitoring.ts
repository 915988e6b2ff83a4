import type { AdapterRegistry } from '../adapters/adapter-registry.js';
import type { DatabaseMetrics } from '../adapters/database-metrics.js';
import type { HealthStatus } from '../adapters/health-status.js';
import type { Registry } from 'prom-client';
import { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { SystemValidation } from './system-validation.js';

/** What a subsystem adds to validateSystem(). */
export interface ValidationContribution {
  readonly checks: readonly { name: string; ok: boolean; message: string }[];
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

/** Health, metrics and system validation over every configured adapter (`dm.monitoring`). */
export class Monitoring {
  constructor(
    private readonly adapters: () => AdapterRegistry,
    /** Subsystems that add checks to validate() (distributed transactions, lifecycle policies, ...). */
    private readonly contributors: readonly (() => Promise<ValidationContribution>)[] = [],
    private readonly prometheus: MetricsRegistry = new MetricsRegistry(),
  ) {}

  /**
   * The prom-client Registry of this DataManager (its own, not prom-client's global default): mount it on a
   * `/metrics` endpoint, or merge it with others with `Registry.merge`. Names and labels: docs/adapters.md.
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
    return new Map(statuses.map((s) => [s.adapterId, s]));
  }

  metrics(): Map<string, DatabaseMetrics> {
    return new Map(this.adapters().all().map((a) => [a.id, a.metrics()]));
  }

  /** Connectivity of every database for now; later subsystems add their checks (migrations, backups, 2PC). */
  async validate(): Promise<SystemValidation> {
    const checks: { name: string; ok: boolean; message: string }[] = [];
    const warnings: string[] = [];
    for (const status of (await this.health()).values()) {
      const ok = status.status !== 'unhealthy';
      checks.push({ name: `connectivity:${status.adapterId}`, ok, message: ok ? `${status.status} (${status.latency} ms)` : status.reasons.join('; ') });
      if (status.status === 'degraded') warnings.push(`${status.adapterId}: degraded: ${status.reasons.join('; ')}`);
    }
    const errors = checks.filter((c) => !c.ok).map((c) => `${c.name.slice('connectivity:'.length)}: unreachable: ${c.message}`);
    for (const contribute of this.contributors) {
      const t = await contribute();
      checks.push(...t.checks);
      errors.push(...t.errors);
      warnings.push(...t.warnings);
    }
    return { valid: errors.length === 0, errors, warnings, checkedAt: new Date(), checks };
  }
}
