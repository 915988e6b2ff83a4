/**
 * Issue 15: a read-heavy workload against PostgreSQL through dm.cache, through no cache, and through BentoCache
 * configured the same way (memory L1 bounded to the same number of entries, not serialized; Redis L2; Redis bus;
 * same ttl and grace), in one run. Goal: dm.cache at or ahead of BentoCache.
 *
 *   node --import tsx bench/cache.ts [--rounds=3] [--ops=40000] [--warmup=20000] [--concurrency=32] [--keys=10000] [--writes=5] [--theta=0.99]
 *
 * Each operation picks a row by a zipfian distribution (one sequence, generated once from a fixed seed, for every
 * side): a read (`SELECT v FROM items WHERE id = $1`, through the cache's getOrSet) or, with probability writes %, a
 * write (`UPDATE items SET v = ...` then the cache's invalidation of that key). The sides run in rotating order per
 * round, each on a key space of its own (keys carry the round) warmed by `warmup` untimed operations of the same
 * sequence, and the medians give the ratios. PostgreSQL is a
 * fresh database on 127.0.0.1:5432; Redis is a redis-server started by the benchmark on a spare port.
 */
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { DataManager } from '../src/data-manager.js';
import { silentLogger } from '../src/util/logger.js';
import { createTestDatabase } from '../test/support/postgres-server.js';
import { ThrowawayRedis } from '../test/support/throwaway-redis.js';
import { BenchOptionError, BenchOptions } from './support/bench-options.js';
import { formatMicros, formatRate, formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import type { Measurement } from './support/measurement.js';
import { runConcurrent } from './support/run-concurrent.js';
import { median } from './support/stats.js';

const TTL_MS = 60_000;
const GRACE_MS = 300_000;
const VALUE_BYTES = 200;

interface Side {
  readonly name: string;
  readonly read: (key: string, id: number) => Promise<unknown>;
  readonly write: (key: string, id: number) => Promise<void>;
}

/** Zipf(theta) over 1..n: the cumulative distribution, sampled by binary search. */
function zipfSampler(n: number, theta: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i += 1) cdf[i] = sum += 1 / (i + 1) ** theta;
  for (let i = 0; i < n; i += 1) cdf[i]! /= sum;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

/** mulberry32: a small seeded generator, so that every side and every run sees the same sequence. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  const options = new BenchOptions();
  const rounds = options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 3, help: 'rounds; the sides rotate their order each round' });
  const ops = options.int({ flag: 'ops', env: 'DK_BENCH_OPS', default: 40_000, help: 'operations per side per round' });
  const concurrency = options.int({ flag: 'concurrency', env: 'DK_BENCH_CONCURRENCY', default: 32, help: 'operations in flight' });
  const keys = options.int({ flag: 'keys', env: 'DK_BENCH_KEYS', default: 10_000, help: 'rows (and cache keys)' });
  const warmup = options.int({ flag: 'warmup', env: 'DK_BENCH_WARMUP', default: 20_000, min: 0, help: 'untimed operations per side per round before the timed ones (same key space): the caches start warm' });
  const writes = options.int({ flag: 'writes', env: 'DK_BENCH_WRITES', default: 5, min: 0, help: 'percent of operations that update a row and invalidate it' });
  const theta = Number(options.string({ flag: 'theta', env: 'DK_BENCH_THETA', default: '0.99', help: 'zipf exponent' }));
  if (options.helpRequested) {
    console.log(`usage: node --import tsx bench/cache.ts [flags]\n${options.usage()}`);
    return;
  }
  options.assertNoUnknownFlags();
  if (!(theta > 0)) throw new BenchOptionError(`--theta is ${theta}; expected a number > 0`);

  const next = zipfSampler(keys, theta, seeded(15));
  const coin = seeded(42);
  const plan = Array.from({ length: warmup + ops }, () => ({ id: next(), write: coin() * 100 < writes }));

  const redis = await ThrowawayRedis.start({ name: 'bench-cache' });
  const db = await createTestDatabase('dk_bench_cache');
  const dm = new DataManager({
    config: {
      databases: [{ ...db.config, id: 'pg', poolSize: 16 }, { ...redis.config, id: 'redis' }],
      cache: { redis: 'redis', prefix: 'dk', defaultTtl: TTL_MS, grace: GRACE_MS, l1: { maxEntries: keys } },
    },
    logger: silentLogger,
  });
  const bento = new BentoCache({
    default: 'tiered',
    prefix: 'bento',
    ttl: TTL_MS,
    grace: GRACE_MS,
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: keys, serialize: false }))
        .useL2Layer(redisDriver({ connection: { host: redis.host, port: redis.port } }))
        .useBus(redisBusDriver({ connection: { host: redis.host, port: redis.port } })),
    },
  });
  try {
    await dm.initialize();
    await dm.cache.ready();
    await dm.execute(`CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL)`);
    await dm.execute(`INSERT INTO items SELECT g, repeat(md5(g::text), ${Math.ceil(VALUE_BYTES / 32)}) FROM generate_series(1, ${keys}) g`);
    await dm.execute('ANALYZE items');

    const loads = new Map<string, number>();
    let current = '';
    const select = async (id: number) => {
      loads.set(current, (loads.get(current) ?? 0) + 1);
      return (await dm.query<{ v: string }>('SELECT v FROM items WHERE id = ?', [id]))[0]!.v;
    };
    const update = (id: number) => dm.execute("UPDATE items SET v = md5(random()::text) || substr(v, 33) WHERE id = ?", [id]);
    const sides: Side[] = [
      { name: 'no cache', read: (_key, id) => select(id), write: async (_key, id) => void (await update(id)) },
      {
        name: 'dm.cache',
        read: (key, id) => dm.cache.getOrSet(key, () => select(id)),
        write: async (key, id) => {
          await update(id);
          await dm.cache.invalidate(key);
        },
      },
      {
        name: 'BentoCache',
        read: (key, id) => bento.getOrSet({ key, factory: () => select(id) }),
        write: async (key, id) => {
          await update(id);
          await bento.delete({ key });
        },
      },
    ];
    const results = new Map<string, Measurement[]>(sides.map((s) => [s.name, []]));
    console.log(`cache benchmark: ${formatRate(ops)} timed ops (after ${formatRate(warmup)} untimed) per side per round, ${concurrency} in flight, ${keys} keys zipf(${theta}), ${100 - writes} % reads; ${rounds} rounds`);
    for (let round = 1; round <= rounds; round += 1) {
      const order = sides.map((_, i) => sides[(i + round - 1) % sides.length]!);
      for (const side of order) {
        current = side.name;
        const run = (offset: number) => async (i: number) => {
          const step = plan[offset + i]!;
          const key = `r${round}:item:${step.id}`;
          if (step.write) await side.write(key, step.id);
          else await side.read(key, step.id);
        };
        if (warmup > 0) await runConcurrent(warmup, concurrency, run(0));
        const measurement = await runConcurrent(ops, concurrency, run(warmup));
        results.get(side.name)!.push(measurement);
        console.log(`  round ${round}  ${side.name.padEnd(10)}  ${formatRate(measurement.perSecond)} ops/s  ${formatMicros(measurement.cpuMicrosPerOp)} CPU/op`);
      }
    }
    const rate = (name: string) => median(results.get(name)!.map((m) => m.perSecond));
    const cpu = (name: string) => median(results.get(name)!.map((m) => m.cpuMicrosPerOp));
    console.log('');
    console.log(
      formatTable(
        ['side', 'ops/s (median)', 'client CPU/op', 'vs no cache'],
        sides.map((s) => [s.name, formatRate(rate(s.name)), formatMicros(cpu(s.name)), formatRatio(rate(s.name) / rate('no cache'))]),
        { markdown: true },
      ),
    );
    console.log(`\ndm.cache / BentoCache throughput: ${formatRatio(rate('dm.cache') / rate('BentoCache'))} (goal >= 1.0)`);
    const stats = dm.cache.stats();
    console.log(`rows read (all rounds, warm-up included): ${sides.map((s) => `${s.name} ${loads.get(s.name) ?? 0}`).join(', ')}`);
    console.log(`dm.cache: ${stats.l1Hits} memory hits, ${stats.l2Hits} Redis hits, ${stats.l2Misses} Redis misses, ${stats.lockWaits} lock waits, ${stats.refusedStores} stores refused, ${stats.remoteErrors} Redis calls failed or timed out`);
    console.log(machineNote());
  } finally {
    await bento.disconnect().catch(() => undefined);
    await dm.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchOptionError ? error.message : error);
  process.exitCode = 1;
});
