import { Counter, Gauge, type Registry } from 'prom-client';
import type { LogCaptureState } from './log-capture-runner.js';

type Name = 'database_id' | 'engine';

/**
 * The `datakeep_backup_log_capture_*` series of the captures running in this process, read from their state at each
 * scrape (no I/O). An alert on the lag, or on `up` being 0, says that point-in-time restores fall behind.
 */
export class LogCaptureMetrics {
  constructor(registry: Registry, states: () => readonly LogCaptureState[]) {
    const labels = (s: LogCaptureState) => ({ database_id: s.database, engine: s.engine });
    const gauge = (name: string, help: string, value: (s: LogCaptureState) => number | undefined) => new Gauge<Name>({
      name, help, labelNames: ['database_id', 'engine'], registers: [registry],
      collect() {
        this.reset();
        for (const s of states()) {
          const v = value(s);
          if (v !== undefined) this.set(labels(s), v);
        }
      },
    });
    const counter = (name: string, help: string, value: (s: LogCaptureState) => number) => new Counter<Name>({
      name, help, labelNames: ['database_id', 'engine'], registers: [registry],
      collect() {
        this.reset();
        for (const s of states()) this.inc(labels(s), value(s));
      },
    });
    const seconds = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso) / 1000);
    // A capture on standby (another process holds it) has no `up` series here: with two instances, alert on
    // max by (database_id) of up, which the holder's instance reports.
    gauge('datakeep_backup_log_capture_up', '1 while the continuous log capture of the database runs, 0 while it waits to start again after a failure', (s) => (s.status === 'standby' ? undefined : s.status === 'running' ? 1 : 0));
    gauge('datakeep_backup_log_capture_standby', '1 while another process captures the database\'s log into the same repository and this one stands by to take over', (s) => (s.status === 'standby' ? 1 : 0));
    gauge('datakeep_backup_log_capture_lag_seconds', 'Seconds between now and the instant up to which the database\'s writes are stored by the log capture', (s) => s.lagSeconds);
    gauge('datakeep_backup_log_capture_covered_until_timestamp_seconds', 'The instant up to which the database\'s writes are stored by the log capture (seconds since the epoch)', (s) => seconds(s.coveredUntil));
    gauge('datakeep_backup_log_capture_last_error_timestamp_seconds', 'When the log capture of the database last failed (seconds since the epoch)', (s) => seconds(s.lastError?.at));
    counter('datakeep_backup_log_capture_restarts_total', 'Times the log capture of the database was started again after a failure', (s) => s.restarts);
    counter('datakeep_backup_log_capture_pieces_total', 'Log pieces (stream segments, oplog slices, binlog pieces) the capture stored', (s) => s.stored);
  }
}
