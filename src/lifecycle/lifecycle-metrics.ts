import { Counter, type Registry } from 'prom-client';
import type { LifecycleProgress, LifecycleRunResult } from './lifecycle-types.js';

type Key = string; // `${database_id} ${engine}` or `${database_id} ${engine} ${outcome}`

/**
 * Lifecycle progress of this process as Prometheus counters: rows deleted (counted as batches commit, so a long run
 * moves the counter while it runs), rows archived, and runs by outcome, per database and engine (policy names stay
 * out of the labels).
 */
export class LifecycleMetrics {
  readonly #deleted = new Map<Key, number>();
  readonly #archived = new Map<Key, number>();
  readonly #runs = new Map<Key, number>();

  constructor(registry: Registry | undefined) {
    if (!registry) return;
    counter(registry, 'datakeep_lifecycle_rows_deleted_total', 'Rows (documents, keys) lifecycle policies removed, counted as each batch commits', [], this.#deleted);
    counter(registry, 'datakeep_lifecycle_rows_archived_total', 'Rows (documents, keys) lifecycle policies wrote to the archive before removing them', [], this.#archived);
    counter(registry, 'datakeep_lifecycle_runs_total', 'Lifecycle policy runs ended, by outcome (done, window-end, contended, failed, ...)', ['outcome'], this.#runs);
  }

  /** Follows one run: returns the progress callback to give it, and what to call with its result. */
  track(databaseId: string, engine: string, onProgress: ((p: LifecycleProgress) => void) | undefined): { onProgress: (p: LifecycleProgress) => void; ended: (result: LifecycleRunResult) => void } {
    const key = `${databaseId} ${engine}`;
    let counted = 0;
    const count = (done: number) => {
      if (done > counted) add(this.#deleted, key, done - counted);
      counted = Math.max(counted, done);
    };
    return {
      onProgress: (p) => {
        count(p.rowsDone);
        onProgress?.(p);
      },
      ended: (result) => {
        count(result.rowsDeleted);
        add(this.#archived, key, result.rowsArchived);
        add(this.#runs, `${key} ${result.outcome}`, 1);
      },
    };
  }
}

function add(map: Map<Key, number>, key: Key, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function counter(registry: Registry, name: string, help: string, extra: readonly string[], values: ReadonlyMap<Key, number>): void {
  new Counter({
    name,
    help,
    labelNames: ['database_id', 'engine', ...extra],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of values) {
        const [database_id, engine, outcome] = key.split(' ') as [string, string, string | undefined];
        this.inc(outcome === undefined ? { database_id, engine } : { database_id, engine, outcome }, n);
      }
    },
  });
}
