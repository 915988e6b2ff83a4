import { Counter, type Registry } from 'prom-client';
import type { JobScheduler } from './job-scheduler.js';

/**
 * `datakeep_schedule_runs_total{kind, outcome}`: scheduled and by-hand runs this process finished, by job kind
 * (backup, drill, lifecycle, ...) and outcome (succeeded, failed, skipped). Job names stay out of the labels: they
 * hold destinations and policy names.
 */
export function registerScheduleMetrics(registry: Registry, scheduler: () => JobScheduler | undefined): void {
  new Counter({
    name: 'datakeep_schedule_runs_total',
    help: 'Runs of scheduled jobs finished by this process, by job kind and outcome (succeeded, failed, skipped)',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { kind, outcome, count } of scheduler()?.runCounts() ?? []) this.inc({ kind, outcome }, count);
    },
  });
}
