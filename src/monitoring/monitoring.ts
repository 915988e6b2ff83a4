import type { AdapterRegistry } from '../adapters/adapter-registry.js';
import type { DatabaseMetrics } from '../adapters/database-metrics.js';
import type { HealthStatus } from '../adapters/health-status.js';
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
    private readonly registry: () => AdapterRegistry,
    /** Subsystems that add checks (distributed transactions, lifecycle policies, ...). */
    ...contributors: (() => Promise<ValidationContribution>)[]
  ) {
    this.#contributors = contributors;
  }

  readonly #contributors: readonly (() => Promise<ValidationContribution>)[];

  /** Probes every adapter in parallel; an adapter that fails its probe is reported unhealthy, never thrown. */
  async health(): Promise<Map<string, HealthStatus>> {
    const adapters = this.registry().all();
    const statuses = await Promise.all(adapters.map((a) => a.health()));
    return new Map(statuses.map((s) => [s.adapterId, s]));
  }

  metrics(): Map<string, DatabaseMetrics> {
    return new Map(this.registry().all().map((a) => [a.id, a.metrics()]));
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
    for (const contribute of this.#contributors) {
      const t = await contribute();
      checks.push(...t.checks);
      errors.push(...t.errors);
      warnings.push(...t.warnings);
    }
    return { valid: errors.length === 0, errors, warnings, checkedAt: new Date(), checks };
  }
}
