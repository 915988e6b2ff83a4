import assert from 'node:assert/strict';
import type { Family } from './parse-exposition.js';

/** Labels datakeep's series may carry: ids, engines and small fixed sets, never statement text, keys or backup ids. */
export const ALLOWED_LABELS = new Set(['database_id', 'engine', 'state', 'code', 'outcome', 'le', 'kind', 'replica', 'level']);
/** The prefixes of datakeep's series, one per area. */
export const METRIC_NAME = /^datakeep_(db_client|database|backup|wal_archive|schedule|transactions|lifecycle|replication|cache)_[a-z_]+$/;
/** Series about this process as a whole rather than one database (the only ones without database_id). */
const PROCESS_WIDE = new Set(['datakeep_schedule_runs_total', 'datakeep_transactions_distributed_total']);

/**
 * Prometheus' naming conventions for every family of an exposition: datakeep's prefixes, base units (seconds, bytes,
 * never ms), `_total` on counters and only there, `_timestamp_seconds` or `_seconds` for times, the reserved
 * `_count`/`_sum`/`_bucket` suffixes only on histograms, a help text, allowed labels, database_id and engine on every
 * per-database sample.
 */
export function assertMetricConventions(families: ReadonlyMap<string, Family>): void {
  for (const family of families.values()) {
    assert.match(family.name, METRIC_NAME);
    assert.doesNotMatch(family.name, /(_ms|milli|_msec|_minutes|_hours|_days|_kb|_mb)(_|$)/, `${family.name} is not in base units`);
    if (family.type === 'counter') assert.match(family.name, /_total$/, `counter ${family.name} must end in _total`);
    else assert.doesNotMatch(family.name, /_total$/, `${family.type} ${family.name} must not end in _total`);
    if (family.type !== 'histogram' && family.type !== 'summary') assert.doesNotMatch(family.name, /_(count|sum|bucket)$/, `${family.name}: _count, _sum and _bucket belong to histograms`);
    if (/timestamp/.test(family.name)) assert.match(family.name, /_timestamp_seconds$/, `${family.name}: a timestamp is in seconds since the epoch`);
    assert.ok(family.help.length > 10, `${family.name} has a help text`);
    for (const sample of family.samples) {
      for (const label of Object.keys(sample.labels)) assert.ok(ALLOWED_LABELS.has(label), `${sample.name}: unexpected label ${label}`);
      if (!PROCESS_WIDE.has(family.name) && !family.name.startsWith('datakeep_replication_') && !family.name.startsWith('datakeep_cache_')) assert.ok(sample.labels.database_id && sample.labels.engine, `${sample.name} carries database_id and engine`);
      assert.ok(Number.isFinite(sample.value) || family.type === 'histogram', `${sample.name} has a finite value`);
    }
  }
}
