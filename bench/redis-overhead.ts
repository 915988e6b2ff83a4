/**
 * Issue 3: what does the Redis adapter cost on top of the ioredis client it wraps?
 *
 * Runs the same commands through `RedisAdapter` (A) and a raw ioredis client (B) with the same connection options on
 * the same Redis, in alternating rounds (A first, then B first, ...), and prints every round, the medians and the
 * ratio adapter / raw per workload. Goal: ratio >= 0.95.
 *
 *   node --import tsx bench/redis-overhead.ts [--rounds=6] [--concurrency=50] [--ops=100000] ... (see --help)
 *
 * Keys live under `dk:bench:` in the chosen db index and are deleted at the end. Exits non-zero only when something
 * fails (connection, a wrong reply, a bad flag), never because of a ratio.
 */
import { Redis } from 'ioredis';
import { resolveDatabaseConfig } from '../src/config/resolve-database-config.js';
import { RedisAdapter } from '../src/engines/redis/redis-adapter.js';
import { silentLogger } from '../src/util/logger.js';
import { alternatingRounds, type BenchSide, type RoundResult } from './support/alternating-rounds.js';
import { BenchOptionError, BenchOptions } from './support/bench-options.js';
import { compareSides, type SideComparison } from './support/compare-sides.js';
import { formatMicros, formatPercent, formatRate, formatRatio } from './support/format-figures.js';
import { formatRow, formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import { runConcurrent } from './support/run-concurrent.js';

const GOAL = 0.95;
const WORKLOAD_NAMES = ['get-set', 'get-set-line', 'pipeline-100'] as const;
type WorkloadName = (typeof WORKLOAD_NAMES)[number];
const PREFIX = 'dk:bench:';
const KEYS = 1000;
const VALUE = 'v'.repeat(64);

interface Workload {
  readonly name: WorkloadName;
  readonly title: string;
  readonly count: number;
  readonly concurrency: number;
  /** Commands per operation, for the commands/s column. */
  readonly commandsPerOp: number;
  readonly adapter: (a: RedisAdapter, i: number) => Promise<void>;
  readonly raw: (r: Redis, i: number) => Promise<void>;
}

function expect(reply: unknown, expected: unknown, what: string): void {
  if (reply !== expected) throw new Error(`${what} replied ${JSON.stringify(reply)}, expected ${JSON.stringify(expected)}`);
}

const key = (i: number) => `${PREFIX}${i % KEYS}`;

function pipelineCommands(i: number): [string, string, string?][] {
  const out: [string, string, string?][] = [];
  for (let j = 0; j < 100; j += 1) out.push(j % 2 === 0 ? ['SET', key(i * 100 + j), VALUE] : ['GET', key(i * 100 + j - 1)]);
  return out;
}

function checkPipeline(replies: readonly unknown[]): void {
  if (replies.length !== 100) throw new Error(`pipeline returned ${replies.length} replies`);
  for (let j = 0; j < 100; j += 1) expect(replies[j], j % 2 === 0 ? 'OK' : VALUE, `pipeline command ${j}`);
}

function workloads(o: { ops: number; pipelines: number; concurrency: number; pipelineConcurrency: number }): Workload[] {
  return [
    {
      name: 'get-set',
      title: `${formatRate(o.ops)} x alternating SET/GET, ${o.concurrency} in flight; adapter.command([...]) vs client.set/get`,
      count: o.ops,
      concurrency: o.concurrency,
      commandsPerOp: 1,
      adapter: async (a, i) => {
        if (i % 2 === 0) expect(await a.command(['SET', key(i), VALUE]), 'OK', 'SET');
        else expect(await a.command(['GET', key(i - 1)]), VALUE, 'GET');
      },
      raw: async (r, i) => {
        if (i % 2 === 0) expect(await r.set(key(i), VALUE), 'OK', 'SET');
        else expect(await r.get(key(i - 1)), VALUE, 'GET');
      },
    },
    {
      name: 'get-set-line',
      title: `${formatRate(o.ops)} x the same through redis-cli style lines (adapter.command('GET k'), includes splitting)`,
      count: o.ops,
      concurrency: o.concurrency,
      commandsPerOp: 1,
      adapter: async (a, i) => {
        if (i % 2 === 0) expect(await a.command(`SET ${key(i)} ${VALUE}`), 'OK', 'SET');
        else expect(await a.command(`GET ${key(i - 1)}`), VALUE, 'GET');
      },
      raw: async (r, i) => {
        if (i % 2 === 0) expect(await r.set(key(i), VALUE), 'OK', 'SET');
        else expect(await r.get(key(i - 1)), VALUE, 'GET');
      },
    },
    {
      name: 'pipeline-100',
      title: `${formatRate(o.pipelines)} x a 100-command pipeline (50 SET + 50 GET), ${o.pipelineConcurrency} in flight; adapter.pipeline vs client.pipeline().exec()`,
      count: o.pipelines,
      concurrency: o.pipelineConcurrency,
      commandsPerOp: 100,
      adapter: async (a, i) => checkPipeline(await a.pipeline(pipelineCommands(i))),
      raw: async (r, i) => {
        const p = r.pipeline();
        for (const c of pipelineCommands(i)) p.call(...(c as [string, ...string[]]));
        const results = await p.exec();
        checkPipeline(results!.map(([err, value]) => {
          if (err) throw err;
          return value;
        }));
      },
    },
  ];
}

function readOptions() {
  const options = new BenchOptions();
  const values = {
    host: options.string({ flag: 'host', env: 'DK_BENCH_REDIS_HOST', default: '127.0.0.1', help: 'Redis host' }),
    port: options.int({ flag: 'port', env: 'DK_BENCH_REDIS_PORT', default: 6379, min: 1, help: 'Redis port' }),
    db: options.int({ flag: 'db', env: 'DK_BENCH_REDIS_DB', default: 0, min: 0, help: 'db index (keys under dk:bench:, deleted at the end)' }),
    rounds: options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 6, min: 1, help: 'measured rounds per side and workload (even: both orders weigh the same)' }),
    concurrency: options.int({ flag: 'concurrency', env: 'DK_BENCH_CONCURRENCY', default: 50, min: 1, help: 'commands in flight for get-set' }),
    ops: options.int({ flag: 'ops', env: 'DK_BENCH_OPS', default: 100_000, min: 1, help: 'commands per round of get-set' }),
    pipelines: options.int({ flag: 'pipelines', env: 'DK_BENCH_PIPELINES', default: 2_000, min: 1, help: 'pipelines per round of pipeline-100' }),
    pipelineConcurrency: options.int({ flag: 'pipeline-concurrency', env: 'DK_BENCH_PIPELINE_CONCURRENCY', default: 8, min: 1, help: 'pipelines in flight' }),
    warmupPercent: options.int({ flag: 'warmup-percent', env: 'DK_BENCH_WARMUP_PERCENT', default: 20, min: 0, help: 'untimed warm-up per side and workload, in % of a round' }),
    workloads: options.list({ flag: 'workloads', env: 'DK_BENCH_WORKLOADS', default: WORKLOAD_NAMES, allowed: WORKLOAD_NAMES, help: 'which workloads to run' }),
    format: options.string({ flag: 'format', env: 'DK_BENCH_FORMAT', default: 'text', help: 'summary table as text or markdown' }),
  };
  if (options.helpRequested) {
    console.log(`usage: node --import tsx bench/redis-overhead.ts [flags]\n${options.usage()}`);
    process.exit(0);
  }
  options.assertNoUnknownFlags();
  if (values.format !== 'text' && values.format !== 'markdown') throw new BenchOptionError(`--format is "${values.format}"; expected text or markdown`);
  return { ...values, markdown: values.format === 'markdown' };
}

const ROUND_WIDTHS = [6, 8, 12, 12, 6, 16];

function cpuPair(a: number, b: number): string {
  return `${formatMicros(a)} / ${formatMicros(b)}`;
}

function printRound(r: RoundResult): void {
  console.log(formatRow([String(r.round), r.first === 'a' ? 'adapter' : 'raw', formatRate(r.a.perSecond), formatRate(r.b.perSecond), formatRatio(r.a.perSecond / r.b.perSecond), cpuPair(r.a.cpuMicrosPerOp, r.b.cpuMicrosPerOp)], ROUND_WIDTHS, ['left', 'left'], '  '));
}

async function deleteBenchKeys(client: Redis): Promise<void> {
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i += 1) keys.push(key(i));
  await client.del(...keys);
}

async function main(): Promise<void> {
  const opts = readOptions();
  const all = workloads(opts);
  const selected = opts.workloads.map((name) => all.find((w) => w.name === name)!);

  const adapter = new RedisAdapter(resolveDatabaseConfig({ type: 'redis', host: opts.host, port: opts.port, database: String(opts.db), retryAttempts: 0 }, 'bench'), { logger: silentLogger });
  // The same connection settings as the adapter's (RESP2, one connection), so that only the adapter's layer differs.
  const raw = new Redis({ host: opts.host, port: opts.port, db: opts.db, protocol: 2, lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await Promise.all([adapter.connect(), raw.connect()]);
    const version = /redis_version:(\S+)/.exec(String(await raw.call('INFO', 'server')))?.[1] ?? '?';
    console.log('datakeep redis overhead: RedisAdapter (A) vs raw ioredis client (B)');
    console.log(`  ${opts.host}:${opts.port} db ${opts.db} (Redis ${version}), one multiplexed connection each, ${opts.rounds} rounds per side, A-first and B-first alternating`);
    console.log(`  machine: ${machineNote()}`);

    const summary: { workload: Workload; comparison: SideComparison }[] = [];
    for (const [index, workload] of selected.entries()) {
      const a: BenchSide = { name: 'adapter', run: () => runConcurrent(workload.count, workload.concurrency, (i) => workload.adapter(adapter, i)) };
      const b: BenchSide = { name: 'raw', run: () => runConcurrent(workload.count, workload.concurrency, (i) => workload.raw(raw, i)) };
      console.log(`\n[${index + 1}/${selected.length}] ${workload.name}: ${workload.title}`);
      const warm = Math.ceil((workload.count * opts.warmupPercent) / 100);
      if (warm > 0) {
        await runConcurrent(warm, workload.concurrency, (i) => workload.raw(raw, i));
        await runConcurrent(warm, workload.concurrency, (i) => workload.adapter(adapter, i));
      }
      console.log(formatRow(['round', 'first', 'adapter op/s', 'raw op/s', 'ratio', 'CPU µs/op A / B'], ROUND_WIDTHS, ['left', 'left'], '  '));
      const rounds = await alternatingRounds({ rounds: opts.rounds, a, b, onRound: printRound });
      const c = compareSides(rounds);
      console.log(formatRow(['median', '', formatRate(c.medianA), formatRate(c.medianB), formatRatio(c.ratio), cpuPair(c.cpuA, c.cpuB)], ROUND_WIDTHS, ['left', 'left'], '  '));
      console.log(`  paired ratio median ${formatRatio(c.pairedRatio)} (rounds ${formatRatio(c.pairedMin)}–${formatRatio(c.pairedMax)}), round spread adapter ${formatPercent(c.spreadA)}, raw ${formatPercent(c.spreadB)}`);
      summary.push({ workload, comparison: c });
    }

    console.log(`\nSummary (median of ${opts.rounds} rounds per side; ratio = adapter / raw, goal >= ${GOAL}; CPU = this Node process's CPU time per operation, adapter / raw)`);
    console.log(
      formatTable(
        ['workload', 'ops/round', 'adapter op/s', 'raw op/s', 'adapter cmd/s', 'ratio', 'paired', 'CPU µs/op A / B', 'goal'],
        summary.map(({ workload, comparison: c }) => [
          workload.name,
          formatRate(workload.count),
          formatRate(c.medianA),
          formatRate(c.medianB),
          formatRate(c.medianA * workload.commandsPerOp),
          formatRatio(c.ratio),
          formatRatio(c.pairedRatio),
          cpuPair(c.cpuA, c.cpuB),
          c.ratio >= GOAL ? 'met' : 'below',
        ]),
        { markdown: opts.markdown, indent: opts.markdown ? '' : '  ' },
      ),
    );
  } finally {
    await deleteBenchKeys(raw).catch(() => undefined);
    await Promise.allSettled([adapter.close(), raw.quit()]);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchOptionError ? `error: ${error.message}` : error);
  process.exitCode = 1;
});
