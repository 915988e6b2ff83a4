/**
 * Issues 6 and 15: what does a distributed transaction cost next to a transaction on one database?
 *
 * Transfers per second (move an amount between two accounts) with 16 clients in flight, for
 *   (a) single: both accounts in one PostgreSQL database, dm.transactions.run (BEGIN ... COMMIT);
 *   (b) pg+pg:  one account in each of two PostgreSQL databases, two-phase commit;
 *   (c) pg+maria: PostgreSQL and MariaDB (XA), two-phase commit;
 *   (d) pg+redis: PostgreSQL prepared, Redis MULTI/EXEC as the last resource;
 *   (e) pg+pg bg, (f) pg+maria bg: (b) and (c) with `phase2: 'background'` (answered once the decision is durable);
 *   (g) pg+pg all-xa, (h) pg+maria all-xa: (b) and (c) with every participant prepared (`decisionIn: false`), the
 *       protocol before a PostgreSQL participant held the decision in a row (b, c, e and f do, by default);
 * and each one's ratio to (a). Goals: (b) or (e) >= 0.4 of (a); (c) or (f) >= 0.35.
 *
 *   node --import tsx bench/transactions.ts [--rounds=4] [--count=2000] [--concurrency=16] [--fsync=on]
 *     [--workloads=single,pg+pg,...] (see --help)
 *
 * PostgreSQL is a throwaway cluster of this run (max_prepared_transactions set; fsync on by default so that every
 * commit, prepare and coordinator-log write pays what it would in production), holding both databases and the
 * state store (the coordinator log). MariaDB and Redis are the machine's servers (127.0.0.1:3306 and :6379).
 * Workloads run in rotating order each round, so drift lands on all of them alike; the figure is the median round.
 * Exits non-zero only when something fails, never because of a ratio.
 */
import { randomBytes } from 'node:crypto';
import { DataManager } from '../src/data-manager.js';
import type { RedisTransactionContext } from '../src/engines/redis/redis-transaction-context.js';
import { silentLogger } from '../src/util/logger.js';
import { createMariadbTestDatabase } from '../test/support/mariadb-server.js';
import { ThrowawayPostgres } from '../test/support/throwaway-postgres.js';
import { BenchOptionError, BenchOptions } from './support/bench-options.js';
import { formatMicros, formatRate, formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import type { Measurement } from './support/measurement.js';
import { runConcurrent } from './support/run-concurrent.js';
import { median } from './support/stats.js';

const ALL = ['single', 'pg+pg', 'pg+maria', 'pg+redis', 'pg+pg bg', 'pg+maria bg', 'pg+pg all-xa', 'pg+maria all-xa'] as const;
type Name = (typeof ALL)[number];
const GOALS: Partial<Record<Name, number>> = { 'pg+pg': 0.4, 'pg+pg bg': 0.4, 'pg+maria': 0.35, 'pg+maria bg': 0.35 };
const ACCOUNTS = 10_000;

function readOptions() {
  const options = new BenchOptions();
  const values = {
    rounds: options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 4, help: 'measured rounds per workload' }),
    count: options.int({ flag: 'count', env: 'DK_BENCH_COUNT', default: 2000, help: 'transfers per round and workload' }),
    concurrency: options.int({ flag: 'concurrency', env: 'DK_BENCH_CONCURRENCY', default: 16, help: 'transfers in flight' }),
    fsync: options.string({ flag: 'fsync', env: 'DK_BENCH_FSYNC', default: 'on', help: 'fsync of the throwaway PostgreSQL cluster (on|off)' }),
    format: options.string({ flag: 'format', env: 'DK_BENCH_FORMAT', default: 'text', help: 'summary table as text or markdown' }),
    workloads: options.string({ flag: 'workloads', env: 'DK_BENCH_WORKLOADS', default: ALL.join(','), help: `comma-separated subset of ${ALL.join(', ')} (single is always run: it is the base)` }),
  };
  if (options.helpRequested) {
    console.log(`usage: node --import tsx bench/transactions.ts [flags]\n${options.usage()}`);
    process.exit(0);
  }
  options.assertNoUnknownFlags();
  if (values.fsync !== 'on' && values.fsync !== 'off') throw new BenchOptionError(`--fsync is "${values.fsync}"; expected on or off`);
  if (values.format !== 'text' && values.format !== 'markdown') throw new BenchOptionError(`--format is "${values.format}"; expected text or markdown`);
  const names = new Set(values.workloads.split(',').map((w) => w.trim()).filter(Boolean));
  for (const n of names) if (!(ALL as readonly string[]).includes(n)) throw new BenchOptionError(`--workloads names "${n}"; expected some of ${ALL.join(', ')}`);
  names.add('single');
  return { ...values, names: ALL.filter((n) => names.has(n)) };
}

async function main(): Promise<void> {
  const opts = readOptions();
  const NAMES = opts.names;
  const cluster = await ThrowawayPostgres.start({
    name: 'bench-tx',
    config: [`fsync = ${opts.fsync}`, 'max_prepared_transactions = 100', 'max_connections = 200', 'shared_buffers = 128MB'],
  });
  const maria = await createMariadbTestDatabase('dk_bench_tx');
  const prefix = `dk-bench-tx-${randomBytes(4).toString('hex')}:`;
  let dm: DataManager | undefined;
  try {
    for (const db of ['a', 'b', 'state']) await cluster.query(`CREATE DATABASE ${db}`);
    const pool = opts.concurrency + 4;
    dm = new DataManager({
      config: {
        databases: [
          { ...cluster.config, id: 'pg1', database: 'a', poolSize: pool },
          { ...cluster.config, id: 'pg2', database: 'b', poolSize: pool },
          { ...maria.config, id: 'maria', poolSize: pool },
          { url: 'redis://127.0.0.1:6379/0', id: 'cache' },
        ],
        state: { url: `postgres://postgres@${cluster.host}:${cluster.port}/state` },
      },
      logger: silentLogger,
    });
    await dm.initialize();
    dm.transactions.configure({ nodeId: `bench-${randomBytes(3).toString('hex')}` });
    const m = dm;
    for (const id of ['pg1', 'pg2']) {
      await m.queryDatabase(id, 'CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)');
      await m.queryDatabase(id, `INSERT INTO accounts SELECT g, 1000000 FROM generate_series(1, ${ACCOUNTS}) g`);
    }
    await m.queryDatabase('maria', 'CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL) ENGINE=InnoDB');
    await m.queryDatabase('maria', `INSERT INTO accounts SELECT seq, 1000000 FROM seq_1_to_${ACCOUNTS}`);

    const account = () => 1 + Math.floor(Math.random() * ACCOUNTS);
    // Phases 2 still running in the background when a measurement ends are waited for outside it, so that they do not
    // slow the next workload down (their cost during the measurement is counted: they share the servers with it).
    const settling = new Set<Promise<unknown>>();
    const background = async (run: Promise<{ settled: Promise<unknown> }>) => {
      const result = await run;
      settling.add(result.settled);
      void result.settled.finally(() => settling.delete(result.settled));
      return result;
    };
    const drain = () => Promise.all([...settling]);
    const debit = 'UPDATE accounts SET balance = balance - ? WHERE id = ?';
    const credit = 'UPDATE accounts SET balance = balance + ? WHERE id = ?';
    const ops: Record<Name, () => Promise<unknown>> = {
      single: () => m.transactions.run('pg1', async (tx) => {
        const [x, y] = twoAccounts(account);
        await tx.execute(debit, [1, x]);
        await tx.execute(credit, [1, y]);
      }),
      'pg+pg': () => m.transactions.distributed(['pg1', 'pg2'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        await tx.on('pg2').execute(credit, [1, account()]);
      }),
      'pg+maria': () => m.transactions.distributed(['pg1', 'maria'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        await tx.on('maria').execute(credit, [1, account()]);
      }),
      'pg+redis': () => m.transactions.distributed(['pg1', 'cache'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        tx.on<RedisTransactionContext>('cache').queue(['INCRBY', `${prefix}${account()}`, '1']);
      }),
      'pg+pg bg': () => background(m.transactions.distributed(['pg1', 'pg2'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        await tx.on('pg2').execute(credit, [1, account()]);
      }, { phase2: 'background' })),
      'pg+maria bg': () => background(m.transactions.distributed(['pg1', 'maria'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        await tx.on('maria').execute(credit, [1, account()]);
      }, { phase2: 'background' })),
      'pg+pg all-xa': () => m.transactions.distributed(['pg1', 'pg2'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        await tx.on('pg2').execute(credit, [1, account()]);
      }, { decisionIn: false }),
      'pg+maria all-xa': () => m.transactions.distributed(['pg1', 'maria'], async (tx) => {
        await tx.on('pg1').execute(debit, [1, account()]);
        await tx.on('maria').execute(credit, [1, account()]);
      }, { decisionIn: false }),
    };

    console.log('Distributed transactions: transfers/s, single-database PostgreSQL vs two-phase commit');
    console.log(`  ${opts.concurrency} in flight, ${formatRate(opts.count)} transfers per round, ${opts.rounds} rounds, workloads in rotating order`);
    console.log(`  PostgreSQL 15 throwaway cluster (fsync ${opts.fsync}) holding both databases and the state store; MariaDB ${String((await m.database('maria').query<{ v: string }>('SELECT VERSION() AS v'))[0]!.v)}; Redis 127.0.0.1:6379`);
    console.log(`  machine: ${machineNote()}`);
    for (const name of NAMES) {
      await runConcurrent(Math.ceil(opts.count / 5), opts.concurrency, () => ops[name]());
      await drain();
    }

    const results = new Map<Name, Measurement[]>(NAMES.map((n) => [n, []]));
    for (let round = 0; round < opts.rounds; round += 1) {
      const order = NAMES.map((_, i) => NAMES[(i + round) % NAMES.length]!);
      const line: string[] = [];
      for (const name of order) {
        const measured = await runConcurrent(opts.count, opts.concurrency, () => ops[name]());
        await drain();
        results.get(name)!.push(measured);
        line.push(`${name} ${formatRate(measured.perSecond)}/s`);
      }
      console.log(`  round ${round + 1}: ${line.join(', ')}`);
    }
    const base = median(results.get('single')!.map((r) => r.perSecond));
    const rows = NAMES.map((name) => {
      const rates = results.get(name)!.map((r) => r.perSecond);
      const rate = median(rates);
      const ratio = rate / base;
      return [
        name,
        formatRate(rate),
        `${formatRate(Math.min(...rates))}–${formatRate(Math.max(...rates))}`,
        formatRatio(ratio),
        formatMicros(median(results.get(name)!.map((r) => r.cpuMicrosPerOp))),
        GOALS[name] === undefined ? '' : ratio >= GOALS[name] ? `met (>= ${GOALS[name]})` : `below ${GOALS[name]}`,
      ];
    });
    console.log(`\nSummary (median of ${opts.rounds} rounds; ratio = workload / single)`);
    console.log(formatTable(['workload', 'transfers/s', 'rounds range', 'ratio to (a)', 'CPU µs/transfer', 'goal'], rows, { markdown: opts.format === 'markdown', indent: opts.format === 'markdown' ? '' : '  ' }));
    const leftovers = await cluster.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_xacts');
    if (Number(leftovers[0]!.n) !== 0) throw new Error(`${leftovers[0]!.n} prepared transactions left behind`);
  } finally {
    if (dm) {
      const keys = (await dm.queryDatabase('cache', ['KEYS', `${prefix}*`]).catch(() => [])) as string[];
      for (let i = 0; i < keys.length; i += 500) await dm.queryDatabase('cache', ['DEL', ...keys.slice(i, i + 500)]).catch(() => undefined);
      await dm.close().catch(() => undefined);
    }
    await maria.drop().catch(() => undefined);
    await cluster.destroy();
  }
}

/** Two different accounts, always locked in id order so that concurrent transfers cannot deadlock. */
function twoAccounts(account: () => number): [number, number] {
  let x = account();
  let y = account();
  while (y === x) y = account();
  if (x > y) [x, y] = [y, x];
  return [x, y];
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchOptionError ? `error: ${error.message}` : error);
  process.exitCode = 1;
});
