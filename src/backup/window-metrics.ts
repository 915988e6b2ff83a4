import type { RecoverabilityWindow } from './backup-types.js';

/** A gauge sample in Prometheus' conventions (base units: seconds since the epoch), ready for an exporter. */
export interface MetricSample {
  readonly name: string;
  readonly help: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * The recoverability window as gauges, one set per database: alert when `..._end_seconds` falls behind the clock (the
 * archive stopped) or `..._start_seconds` moves past the recovery window you promised (retention ate history).
 * A window without a known end (no transaction archived after the oldest backup yet) reports no end sample rather
 * than a made-up one.
 */
export function windowMetrics(windows: readonly RecoverabilityWindow[]): MetricSample[] {
  const out: MetricSample[] = [];
  for (const w of windows) {
    const labels = { database: w.database };
    out.push({ name: 'datakeep_backup_count', help: 'Completed backups in the repository', labels, value: w.backups });
    if (w.from) {
      out.push({ name: 'datakeep_backup_recovery_window_start_seconds', help: 'First instant a point-in-time restore can reach (the oldest backup\'s consistency point)', labels, value: new Date(w.from.time).getTime() / 1000 });
    }
    if (w.to?.time) {
      out.push({ name: 'datakeep_backup_recovery_window_end_seconds', help: 'Last instant a point-in-time restore can reach (the last transaction end in the unbroken archive)', labels, value: new Date(w.to.time).getTime() / 1000 });
    }
  }
  return out;
}
