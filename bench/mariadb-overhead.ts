/**
 * Issue 3: what does the MariaDB adapter cost on top of the `mariadb` driver it wraps?
 *
 * Runs the same statements through `MariadbAdapter.query` (A) and a raw `mariadb` pool's `query` (B) on the same
 * server, with the same pool size and the same number of calls in flight, in alternating rounds (A first, then B
 * first, ...), and prints every round, the medians and the ratio adapter / raw per workload. Goal: ratio >= 0.97.
 *
 *   node --import tsx bench/mariadb-overhead.ts [--rounds=6] [--pool=16] [--concurrency=32] ... (see --help)
 *
 * Both sides return equivalent rows (the adapter converts BIGINT to numbers; the workloads have none, so neither side
 * converts anything). Exits non-zero only when something fails, never because of a ratio.
 */
import mariadb from 'mariadb';
import { resolveDatabaseConfig } from '../src/config/resolve-database-config.js';
import { MariadbAdapter } from '../src/engines/mariadb/mariadb-adapter.js';
import { silentLogger } from '../src/util/logger.js';
import { alternatingRounds, type BenchSide, type RoundResult } from './support/alternating-rounds.js';
import { BenchOptionError, BenchOptions } from './support/bench-options.js';
import { compareSides, type SideComparison } from './support/compare-sides.js';
import { formatMicros, formatPercent, formatRate, formatRatio } from './support/format-figures.js';
import { formatRow, formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import { runConcurrent } from './support/run-concurrent.js';

const GOAL = 0.97;
const WORKLOAD_NAMES = ['select-param', 'rows-100'] as const;
type WorkloadName = (typeof WORKLOAD_NAMES)[number];
type QueryFn = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

// The Sequence engine (MariaDB 10.0+) generates rows without a table, so the figure is not about disk or buffer pool.
const ROWS_SQL = 'SELECT seq AS g, md5(seq) AS h FROM seq_1_to_100';

interface Workload {
  readonly name: WorkloadName;
  readonly title: string;
  readonly count: number;
  /** One operation; throws on a wrong result so a broken side can never post a good figure. */
  readonly op: (q: QueryFn, i: number) => Promise<void>;
}

function workloads(sizes: { smallCount: number; rowsCount: number }): Workload[] {
  return [
    {
      name: 'select-param',
      title: `${formatRate(sizes.smallCount)} x SELECT ? AS v`,
      count: sizes.smallCount,
      op: async (q, i) => {
        const rows = await q('SELECT ? AS v', [i]);
        if (rows.length !== 1 || Number(rows[0]!.v) !== i) throw new Error(`SELECT ${i} returned ${JSON.stringify(rows)}`);
      },
    },
    {
      name: 'rows-100',
      title: `${formatRate(sizes.rowsCount)} x ${ROWS_SQL}`,
      count: sizes.rowsCount,
      op: async (q) => {
        const rows = await q(ROWS_SQL);
        if (rows.length !== 100 || Number(rows[99]!.g) !== 100) throw new Error(`seq_1_to_100 returned ${rows.length} rows`);
      },
    },
  ];
}

function readOptions() {
  const options = new BenchOptions();
  const values = {
    host: options.string({ flag: 'host', env: 'DK_BENCH_MARIADB_HOST', default: '127.0.0.1', help: 'MariaDB host' }),
    port: options.int({ flag: 'port', env: 'DK_BENCH_MARIADB_PORT', default: 3306, help: 'MariaDB port' }),
    user: options.string({ flag: 'user', env: 'DK_BENCH_MARIADB_USER', default: 'root', help: 'user (password from DK_BENCH_MARIADB_PASSWORD)' }),
    rounds: options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 6, help: 'measured rounds per side and workload (even: both orders weigh the same)' }),
    pool: options.int({ flag: 'pool', env: 'DK_BENCH_POOL', default: 16, help: 'connections in each pool' }),
    concurrency: options.int({ flag: 'concurrency', env: 'DK_BENCH_CONCURRENCY', default: 32, help: 'queries in flight' }),
    smallCount: options.int({ flag: 'small-count', env: 'DK_BENCH_SMALL_COUNT', default: 30_000, help: 'queries per round of select-param' }),
    rowsCount: options.int({ flag: 'rows-count', env: 'DK_BENCH_ROWS_COUNT', default: 3_000, help: 'queries per round of rows-100' }),
    warmupPercent: options.int({ flag: 'warmup-percent', env: 'DK_BENCH_WARMUP_PERCENT', default: 20, min: 0, help: 'untimed warm-up per side and workload, in % of a round' }),
    workloads: options.list({ flag: 'workloads', env: 'DK_BENCH_WORKLOADS', default: WORKLOAD_NAMES, allowed: WORKLOAD_NAMES, help: 'which workloads to run' }),
    format: options.string({ flag: 'format', env: 'DK_BENCH_FORMAT', default: 'text', help: 'summary table as text or markdown' }),
  };
  if (options.helpRequested) {
    console.log(`usage: node --import tsx bench/mariadb-overhead.ts [flags]\n${options.usage()}`);
    process.exit(0);
  }
  options.assertNoUnknownFlags();
  if (values.format !== 'text' && values.format !== 'markdown') throw new BenchOptionError(`--format is "${values.format}"; expected text or markdown`);
  return { ...values, password: process.env.DK_BENCH_MARIADB_PASSWORD, markdown: values.format === 'markdown' };
}

const ROUND_WIDTHS = [6, 8, 12, 12, 6, 14];

function printRound(r: RoundResult): void {
  console.log(formatRow([String(r.round), r.first === 'a' ? 'adapter' : 'raw', formatRate(r.a.perSecond), formatRate(r.b.perSecond), formatRatio(r.a.perSecond / r.b.perSecond), `${formatMicros(r.a.cpuMicrosPerOp)} / ${formatMicros(r.b.cpuMicrosPerOp)}`], ROUND_WIDTHS, ['left', 'left'], '  '));
}

async function main(): Promise<void> {
  const opts = readOptions();
  const all = workloads(opts);
  const selected = opts.workloads.map((name) => all.find((w) => w.name === name)!);

  // Same connection settings on both sides; the raw pool is sized and bounded like the adapter's.
  const raw = mariadb.createPool({ host: opts.host, port: opts.port, user: opts.user, password: opts.password, database: 'mysql', connectionLimit: opts.pool, minimumIdle: 0, idleTimeout: 600, acquireTimeout: 10_000 });
  const adapter = new MariadbAdapter(
    resolveDatabaseConfig({ type: 'mariadb', host: opts.host, port: opts.port, username: opts.user, password: opts.password, database: 'mysql', poolSize: opts.pool, retryAttempts: 0 }, 'bench'),
    { logger: silentLogger },
  );
  try {
    await adapter.connect();
    const rawQuery: QueryFn = (sql, params) => raw.query(sql, params);
    const adapterQuery: QueryFn = (sql, params) => adapter.query(sql, params);
    const version = String((await rawQuery('SELECT VERSION() AS v'))[0]!.v);

    console.log('MariaDB adapter overhead: MariadbAdapter.query (A) vs raw mariadb pool.query (B)');
    console.log(`  ${opts.user}@${opts.host}:${opts.port} (${version}), pool ${opts.pool} each, ${opts.concurrency} in flight, ${opts.rounds} rounds per side, A-first and B-first alternating`);
    console.log(`  machine: ${machineNote()}`);

    const summary: { workload: Workload; comparison: SideComparison }[] = [];
    for (const [index, workload] of selected.entries()) {
      const a: BenchSide = { name: 'adapter', run: () => runConcurrent(workload.count, opts.concurrency, (i) => workload.op(adapterQuery, i)) };
      const b: BenchSide = { name: 'raw', run: () => runConcurrent(workload.count, opts.concurrency, (i) => workload.op(rawQuery, i)) };
      console.log(`\n[${index + 1}/${selected.length}] ${workload.name}: ${workload.title}`);
      const warm = Math.ceil((workload.count * opts.warmupPercent) / 100);
      if (warm > 0) {
        await runConcurrent(warm, opts.concurrency, (i) => workload.op(rawQuery, i));
        await runConcurrent(warm, opts.concurrency, (i) => workload.op(adapterQuery, i));
      }
      console.log(formatRow(['round', 'first', 'adapter q/s', 'raw q/s', 'ratio', 'CPU µs/q A / B'], ROUND_WIDTHS, ['left', 'left'], '  '));
      const rounds = await alternatingRounds({ rounds: opts.rounds, a, b, onRound: printRound });
      const c = compareSides(rounds);
      console.log(formatRow(['median', '', formatRate(c.medianA), formatRate(c.medianB), formatRatio(c.ratio), `${formatMicros(c.cpuA)} / ${formatMicros(c.cpuB)}`], ROUND_WIDTHS, ['left', 'left'], '  '));
      console.log(`  paired ratio median ${formatRatio(c.pairedRatio)} (rounds ${formatRatio(c.pairedMin)}–${formatRatio(c.pairedMax)}), round spread adapter ${formatPercent(c.spreadA)}, raw ${formatPercent(c.spreadB)}`);
      summary.push({ workload, comparison: c });
    }

    console.log(`\nSummary (median of ${opts.rounds} rounds per side; ratio = adapter / raw, goal >= ${GOAL}; CPU = this Node process's CPU time per query, adapter / raw)`);
    console.log(
      formatTable(
        ['workload', 'queries/round', 'adapter q/s', 'raw q/s', 'ratio', 'paired', 'CPU µs/q A / B', 'goal'],
        summary.map(({ workload, comparison: c }) => [
          workload.name,
          formatRate(workload.count),
          formatRate(c.medianA),
          formatRate(c.medianB),
          formatRatio(c.ratio),
          formatRatio(c.pairedRatio),
          `${formatMicros(c.cpuA)} / ${formatMicros(c.cpuB)}`,
          c.ratio >= GOAL ? 'met' : 'below',
        ]),
        { markdown: opts.markdown, indent: opts.markdown ? '' : '  ' },
      ),
    );
  } finally {
    await Promise.allSettled([adapter.close(), raw.end()]);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchOptionError ? `error: ${error.message}` : error);
  process.exitCode = 1;
});
