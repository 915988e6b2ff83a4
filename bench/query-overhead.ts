/**
 * Issue 2: what does DataManager.query cost on top of the driver it wraps?
 *
 * Runs the same statements through `DataManager.query` (A) and a raw `pg.Pool.query` (B) on the same PostgreSQL, with
 * the same pool size and the same number of calls in flight, in alternating rounds (A first, then B first, ...), and
 * prints every round, the medians and the ratio datakeep / raw per workload. Goal: ratio >= 0.97.
 *
 *   node --import tsx bench/query-overhead.ts [--rounds=6] [--pool=16] [--concurrency=32] ... (see --help)
 *
 * Exits non-zero only when something fails (connection, a wrong result, a bad flag), never because of a ratio: the
 * figures are for people to read, and a busy machine must not turn a benchmark into a flaky check.
 */
import os from 'node:os';
import pg from 'pg';
import { DataManager } from '../src/index.js';
import { alternatingRounds, type BenchSide, type RoundResult } from './support/alternating-rounds.js';
import { BenchOptionError, BenchOptions } from './support/bench-options.js';
import { compareSides, type SideComparison } from './support/compare-sides.js';
import { formatMicros, formatPercent, formatRate, formatRatio } from './support/format-figures.js';
import { formatRow, formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import { runConcurrent } from './support/run-concurrent.js';

const GOAL = 0.97;
const WORKLOAD_NAMES = ['select-int', 'rows-100', 'select-int-qmark'] as const;
type WorkloadName = (typeof WORKLOAD_NAMES)[number];

type QueryFn = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

interface Workload {
  readonly name: WorkloadName;
  readonly title: string;
  readonly count: number;
  /** One operation; `check` throws on a wrong result so a broken side can never post a good figure. */
  readonly datakeep: (dm: QueryFn, i: number) => Promise<void>;
  readonly raw: (pool: QueryFn, i: number) => Promise<void>;
}

const ROWS_SQL = 'SELECT g, md5(g::text) FROM generate_series(1,100) g';

function expectInt(rows: Record<string, unknown>[], i: number): void {
  if (rows.length !== 1 || rows[0]!.int4 !== i) throw new Error(`SELECT ${i}::int returned ${JSON.stringify(rows)}`);
}

function expectRows(rows: Record<string, unknown>[]): void {
  if (rows.length !== 100 || rows[99]!.g !== 100) throw new Error(`generate_series(1,100) returned ${rows.length} rows`);
}

function workloads(sizes: { smallCount: number; rowsCount: number }): Workload[] {
  return [
    {
      name: 'select-int',
      title: `${formatRate(sizes.smallCount)} x SELECT $1::int (both sides $1)`,
      count: sizes.smallCount,
      datakeep: async (q, i) => expectInt(await q('SELECT $1::int', [i]), i),
      raw: async (q, i) => expectInt(await q('SELECT $1::int', [i]), i),
    },
    {
      name: 'rows-100',
      title: `${formatRate(sizes.rowsCount)} x ${ROWS_SQL}`,
      count: sizes.rowsCount,
      datakeep: async (q) => expectRows(await q(ROWS_SQL)),
      raw: async (q) => expectRows(await q(ROWS_SQL)),
    },
    {
      name: 'select-int-qmark',
      title: `${formatRate(sizes.smallCount)} x SELECT ?::int through datakeep (placeholder translation) vs SELECT $1::int raw`,
      count: sizes.smallCount,
      datakeep: async (q, i) => expectInt(await q('SELECT ?::int', [i]), i),
      raw: async (q, i) => expectInt(await q('SELECT $1::int', [i]), i),
    },
  ];
}

function readOptions() {
  const options = new BenchOptions();
  const values = {
    url: options.string({ flag: 'url', env: 'DK_BENCH_PG_URL', default: 'postgres://postgres@127.0.0.1:5432/postgres', help: 'PostgreSQL to run against' }),
    rounds: options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 6, help: 'measured rounds per side and workload (even: both orders weigh the same)' }),
    pool: options.int({ flag: 'pool', env: 'DK_BENCH_POOL', default: 16, help: 'connections in each pool' }),
    concurrency: options.int({ flag: 'concurrency', env: 'DK_BENCH_CONCURRENCY', default: 32, help: 'queries in flight' }),
    smallCount: options.int({ flag: 'small-count', env: 'DK_BENCH_SMALL_COUNT', default: 50_000, help: 'queries per round of select-int and select-int-qmark' }),
    rowsCount: options.int({ flag: 'rows-count', env: 'DK_BENCH_ROWS_COUNT', default: 5_000, help: 'queries per round of rows-100' }),
    warmupPercent: options.int({ flag: 'warmup-percent', env: 'DK_BENCH_WARMUP_PERCENT', default: 20, min: 0, help: 'untimed warm-up per side and workload, in % of a round' }),
    workloads: options.list({ flag: 'workloads', env: 'DK_BENCH_WORKLOADS', default: WORKLOAD_NAMES, allowed: WORKLOAD_NAMES, help: 'which workloads to run' }),
    format: options.string({ flag: 'format', env: 'DK_BENCH_FORMAT', default: 'text', help: 'summary table as text or markdown' }),
  };
  if (options.helpRequested) {
    console.log(`usage: node --import tsx bench/query-overhead.ts [flags]\n${options.usage()}`);
    process.exit(0);
  }
  options.assertNoUnknownFlags();
  if (values.format !== 'text' && values.format !== 'markdown') throw new BenchOptionError(`--format is "${values.format}"; expected text or markdown`);
  return { ...values, markdown: values.format === 'markdown' };
}

const ROUND_WIDTHS = [6, 8, 12, 12, 6, 14];

function cpuPair(a: number, b: number): string {
  return `${formatMicros(a)} / ${formatMicros(b)}`;
}

function printRound(r: RoundResult): void {
  console.log(formatRow([String(r.round), r.first === 'a' ? 'datakeep' : 'raw', formatRate(r.a.perSecond), formatRate(r.b.perSecond), formatRatio(r.a.perSecond / r.b.perSecond), cpuPair(r.a.cpuMicrosPerOp, r.b.cpuMicrosPerOp)], ROUND_WIDTHS, ['left', 'left'], '  '));
}

async function main(): Promise<void> {
  const opts = readOptions();
  const all = workloads(opts);
  // In the order given, so that an experiment can check whether running first or later changes a workload's figure.
  const selected = opts.workloads.map((name) => all.find((w) => w.name === name)!);

  const raw = new pg.Pool({ connectionString: opts.url, max: opts.pool, idleTimeoutMillis: 30_000 });
  raw.on('error', (error) => console.error(`raw pool: idle client error: ${error.message}`));
  const dm = new DataManager();
  try {
    await dm.initialize([{ url: opts.url, poolSize: opts.pool, retryAttempts: 0 }]);
    const serverVersion = (await raw.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version.split(' ')[0];
    const rawQuery: QueryFn = async (sql, params) => (await raw.query(sql, params)).rows as Record<string, unknown>[];
    const dmQuery: QueryFn = (sql, params) => dm.query(sql, params);

    console.log('datakeep query overhead: DataManager.query (A) vs raw pg.Pool.query (B)');
    console.log(`  ${opts.url.replace(/:[^:@/]*@/, ':***@')} (PostgreSQL ${serverVersion}), pool ${opts.pool} each, ${opts.concurrency} in flight, ${opts.rounds} rounds per side, A-first and B-first alternating`);
    console.log(`  machine: ${machineNote()}`);

    const summary: { workload: Workload; comparison: SideComparison }[] = [];
    for (const [index, workload] of selected.entries()) {
      const a: BenchSide = { name: 'datakeep', run: () => runConcurrent(workload.count, opts.concurrency, (i) => workload.datakeep(dmQuery, i)) };
      const b: BenchSide = { name: 'raw', run: () => runConcurrent(workload.count, opts.concurrency, (i) => workload.raw(rawQuery, i)) };
      console.log(`\n[${index + 1}/${selected.length}] ${workload.name}: ${workload.title}`);
      // Warm-up: JIT, both pools filled to `pool` connections, server plan caches; B then A so neither side gets the last word.
      const warm = Math.ceil((workload.count * opts.warmupPercent) / 100);
      if (warm > 0) {
        await runConcurrent(warm, opts.concurrency, (i) => workload.raw(rawQuery, i));
        await runConcurrent(warm, opts.concurrency, (i) => workload.datakeep(dmQuery, i));
      }
      console.log(formatRow(['round', 'first', 'datakeep q/s', 'raw q/s', 'ratio', 'CPU µs/q A / B'], ROUND_WIDTHS, ['left', 'left'], '  '));
      const rounds = await alternatingRounds({ rounds: opts.rounds, a, b, onRound: printRound });
      const c = compareSides(rounds);
      console.log(formatRow(['median', '', formatRate(c.medianA), formatRate(c.medianB), formatRatio(c.ratio), cpuPair(c.cpuA, c.cpuB)], ROUND_WIDTHS, ['left', 'left'], '  '));
      console.log(`  paired ratio median ${formatRatio(c.pairedRatio)} (rounds ${formatRatio(c.pairedMin)}–${formatRatio(c.pairedMax)}), round spread datakeep ${formatPercent(c.spreadA)}, raw ${formatPercent(c.spreadB)}`);
      summary.push({ workload, comparison: c });
    }

    console.log(`\nSummary (median of ${opts.rounds} rounds per side; ratio = datakeep / raw, goal >= ${GOAL}; CPU = this Node process's CPU time per query, datakeep / raw)`);
    console.log(
      formatTable(
        ['workload', 'queries/round', 'datakeep q/s', 'raw q/s', 'ratio', 'paired', 'spread', 'CPU µs/q A / B', 'goal'],
        summary.map(({ workload, comparison: c }) => [
          workload.name,
          formatRate(workload.count),
          formatRate(c.medianA),
          formatRate(c.medianB),
          formatRatio(c.ratio),
          formatRatio(c.pairedRatio),
          formatPercent(Math.max(c.spreadA, c.spreadB)),
          cpuPair(c.cpuA, c.cpuB),
          c.ratio >= GOAL ? 'met' : 'below',
        ]),
        { markdown: opts.markdown, indent: opts.markdown ? '' : '  ' },
      ),
    );
    const noisy = summary.some(({ comparison: c }) => Math.max(c.spreadA, c.spreadB) > 0.1);
    console.log(`  load avg at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}${noisy ? '; rounds spread over 10 %: the machine was busy, trust ratios from quiet runs or the paired column' : ''}`);
  } finally {
    await Promise.allSettled([dm.close(), raw.end()]);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchOptionError ? `error: ${error.message}` : error);
  process.exitCode = 1;
});
