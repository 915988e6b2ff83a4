import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DB_OPERATION_BUCKETS_SECONDS } from '../metrics/duration-buckets.js';

/** Plain counts on the hot path; prom-client reads them when scraped (its own inc costs label hashing per call). */
export class CacheCounters {
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  staleServed = 0;
  lockWaits = 0;
  /** Loads whose value was not stored because an invalidation came in between (the cache-aside race, refused). */
  refusedStores = 0;
  readonly errors = new Map<'remote' | 'loader', number>();

  error(kind: 'remote' | 'loader'): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }
}

export interface CacheGauges {
  entries(): number;
  remoteAvailable(): number;
}

/**
 * The cache's series on the DataManager's registry: `datakeep_cache_hits_total{level}`, `..._misses_total{level}`,
 * `..._stale_served_total`, `..._errors_total{kind}`, `..._lock_waits_total`, `..._refused_stores_total`,
 * `..._loader_duration_seconds` (histogram, `outcome`), `..._entries` and `..._remote_available`. Returns the histogram.
 */
export function registerCacheMetrics(registry: Registry, c: CacheCounters, gauges: CacheGauges): Histogram<'outcome'> {
  const counter = (name: string, help: string, labelNames: string[], read: () => Iterable<[Record<string, string>, number]>) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, n] of read()) this.inc(labels, n);
      },
    });
  counter('datakeep_cache_hits_total', 'Cache reads answered by a tier (l1: memory, l2: Redis), fresh or stale', ['level'], () => [
    [{ level: 'l1' }, c.l1Hits],
    [{ level: 'l2' }, c.l2Hits],
  ]);
  counter('datakeep_cache_misses_total', 'Cache reads a tier could not answer (an l2 miss runs the loader)', ['level'], () => [
    [{ level: 'l1' }, c.l1Misses],
    [{ level: 'l2' }, c.l2Misses],
  ]);
  counter('datakeep_cache_stale_served_total', 'Values served past their freshness within the grace period (refresh pending, loader slow or failing)', [], () => [[{}, c.staleServed]]);
  counter('datakeep_cache_lock_waits_total', 'Loads that waited for another process holding the load lock of the key', [], () => [[{}, c.lockWaits]]);
  counter('datakeep_cache_refused_stores_total', 'Loaded values not stored because the key or a tag was invalidated while loading', [], () => [[{}, c.refusedStores]]);
  counter('datakeep_cache_errors_total', 'Cache failures by kind: remote (Redis calls failed or timed out), loader (the caller\'s loader threw)', ['kind'], () =>
    [...c.errors].map(([kind, n]): [Record<string, string>, number] => [{ kind }, n]),
  );
  new Gauge({
    name: 'datakeep_cache_entries',
    help: 'Entries in the memory tier',
    registers: [registry],
    collect() {
      this.set(gauges.entries());
    },
  });
  new Gauge({
    name: 'datakeep_cache_remote_available',
    help: '1 while the Redis tier is in use, 0 while its breaker is open (memory and loaders only)',
    registers: [registry],
    collect() {
      this.set(gauges.remoteAvailable());
    },
  });
  return new Histogram({
    name: 'datakeep_cache_loader_duration_seconds',
    help: 'Time the loaders took, by outcome (ok or error)',
    labelNames: ['outcome'],
    buckets: [...DB_OPERATION_BUCKETS_SECONDS],
    registers: [registry],
  });
}
