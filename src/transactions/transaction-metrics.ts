import { Counter, Gauge, type Registry } from 'prom-client';
import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { xaParticipantFor } from './participant-factory.js';
import { scanPrepared } from './prepared-scan.js';
import type { CoordinatorCounters } from './distributed-transaction.js';

export interface TransactionMetricSource {
  adapters(): readonly DatabaseAdapter[];
  /** Distributed transactions running in this process now. */
  readonly live: ReadonlySet<string>;
  readonly counters: CoordinatorCounters;
}

/**
 * `datakeep_transactions_in_doubt{database_id, engine}`: prepared branches on each XA-capable database that belong to
 * no transaction running in this process (a coordinator died between prepare and commit, or someone ran PREPARE
 * TRANSACTION by hand), read when scraped; `..._oldest_in_doubt_age_seconds`; and distributed transactions this
 * process ended, by outcome.
 */
export function registerTransactionMetrics(registry: Registry, source: TransactionMetricSource): void {
  // Concurrent scrapes share the scan in flight (one query per database); a later scrape scans again.
  let inFlight: Promise<Map<string, { engine: string; count: number; oldest: number }>> | undefined;
  const scan = () => (inFlight ??= inDoubtByDatabase(source).finally(() => (inFlight = undefined)));
  new Gauge({
    name: 'datakeep_transactions_in_doubt',
    help: 'Prepared transaction branches on the database that no transaction running in this process owns (in doubt until committed or rolled back)',
    labelNames: ['database_id', 'engine'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [id, s] of await scan()) this.set({ database_id: id, engine: s.engine }, s.count);
    },
  });
  new Gauge({
    name: 'datakeep_transactions_oldest_in_doubt_age_seconds',
    help: 'Age of the oldest in-doubt prepared branch on the database (0 when none, or when the engine does not tell)',
    labelNames: ['database_id', 'engine'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [id, s] of await scan()) this.set({ database_id: id, engine: s.engine }, s.oldest);
    },
  });
  new Counter({
    name: 'datakeep_transactions_distributed_total',
    help: 'Distributed transactions this process ended, by outcome (committed, aborted, in_doubt, heuristic_mixed)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const c = source.counters;
      for (const [outcome, n] of [['committed', c.committed], ['aborted', c.aborted], ['in_doubt', c.inDoubt], ['heuristic_mixed', c.heuristicMixed]] as const) this.inc({ outcome }, n);
    },
  });
}

async function inDoubtByDatabase(source: TransactionMetricSource): Promise<Map<string, { engine: string; count: number; oldest: number }>> {
  let all: readonly DatabaseAdapter[];
  try {
    all = source.adapters();
  } catch {
    return new Map(); // before initialize or after close: no database, no series
  }
  const adapters = all.filter((a) => xaParticipantFor(a) !== undefined);
  const out = new Map(adapters.map((a) => [a.id, { engine: a.type, count: 0, oldest: 0 }]));
  const { branches, unreachable } = await scanPrepared(adapters, { all: true });
  for (const id of unreachable.keys()) out.delete(id);
  for (const { prepared } of branches) {
    const entry = out.get(prepared.adapterId);
    if (!entry || (prepared.globalId !== undefined && source.live.has(prepared.globalId))) continue;
    entry.count += 1;
    if (prepared.preparedAt) entry.oldest = Math.max(entry.oldest, (Date.now() - prepared.preparedAt.getTime()) / 1000);
  }
  return out;
}
