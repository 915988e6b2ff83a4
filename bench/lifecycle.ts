/**
 * Issue 11: retention on a busy table. Deletes (or archives and deletes) the expired half of a table while an
 * application writes and reads, side by side with what a user would do instead:
 * - naive: one statement, `DELETE FROM events WHERE created_at < now() - interval '90 days'`;
 * - datakeep: `dm.lifecycle.run()` with a delete policy (and, with --archive=1, an archive policy);
 * - with --partitioned=1 also a table partitioned by month, where the peer is pg_partman's way (DROP TABLE of each
 *   expired partition, after DETACH) and datakeep detaches CONCURRENTLY and drops.
 * The application load (a writer inserting and a reader doing point queries, each at --rate per second) runs in a
 * process of its own; its latencies are split into a baseline phase and the run. A sampler records the longest time
 * any session waited for a lock (pg_locks.waitstart) during each run.
 *
 *   node --import tsx bench/lifecycle.ts [--rows=2000000] [--rate=200] [--baseline-seconds=10] [--archive=1] [--partitioned=1]
 *
 * Goals (../shared/BENCHMARKS.md): writer p99 during the run <= 2x its baseline; longest lock wait < 100 ms.
 * Exits non-zero only when something fails, never because of a figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataManager } from '../src/index.js';
import { BenchOptions } from './support/bench-options.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';

const options = new BenchOptions();
const ROWS = options.int({ flag: 'rows', env: 'DK_BENCH_ROWS', default: 2_000_000, help: 'rows in the table; half of them expired' });
const RATE = options.int({ flag: 'rate', env: 'DK_BENCH_RATE', default: 200, help: 'writer inserts and reader queries per second, each' });
const BASELINE_S = options.int({ flag: 'baseline-seconds', env: 'DK_BENCH_BASELINE', default: 10, help: 'seconds of load measured before each run' });
const ARCHIVE = options.int({ flag: 'archive', env: 'DK_BENCH_ARCHIVE', default: 0, min: 0, help: '1: also a datakeep run that archives before deleting' });
const PARTITIONED = options.int({ flag: 'partitioned', env: 'DK_BENCH_PARTITIONED', default: 0, min: 0, help: '1: also the partitioned table, against DETACH + DROP TABLE' });
const PLAIN = options.int({ flag: 'plain', env: 'DK_BENCH_PLAIN', default: 1, min: 0, help: '0: skip the plain table (naive DELETE and datakeep delete)' });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}
options.assertNoUnknownFlags();

const ADMIN = process.env.DATAKEEP_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LOAD = fileURLToPath(new URL('./support/lifecycle-load.ts', import.meta.url));
const dbName = `dk_bench_lifecycle_${process.pid}`;
const url = ADMIN.replace(/\/[^/]*$/, `/${dbName}`);
const dir = mkdtempSync(join(tmpdir(), 'dk-bench-lifecycle-'));
process.env.DATAKEEP_REPO_PASSPHRASE ??= 'bench-lifecycle-passphrase';

interface SideResult {
  readonly side: string;
  readonly seconds: number;
  readonly rows: number;
  readonly writer: { base: number; during: number; max: number };
  readonly readerP99: number;
  readonly lockWaitMs: number;
  readonly note: string;
}

function p99(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

/** A plain table (rows with ids 1..ROWS, the first half older than 90 days), or one partitioned by month. */
async function fill(client: pg.Client, partitioned: boolean): Promise<void> {
  await client.query('DROP TABLE IF EXISTS events CASCADE');
  if (partitioned) {
    await client.query('CREATE TABLE events (id bigserial, created_at timestamptz NOT NULL, payload text, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)');
    for (let m = -1; m < 12; m += 1) {
      await client.query(`CREATE TABLE events_m${m + 1} PARTITION OF events FOR VALUES FROM (date_trunc('month', now()) - interval '${m} months') TO (date_trunc('month', now()) - interval '${m - 1} months')`);
    }
  } else {
    await client.query('CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, payload text)');
  }
  // Ids follow time, as in an append-only table: the oldest rows have the smallest ids.
  await client.query(`INSERT INTO events (created_at, payload)
    SELECT now() - interval '330 days' + (g::float8 / $1) * interval '330 days', repeat('x', 100) FROM generate_series(1, $1::int) g`, [ROWS]);
  await client.query('CREATE INDEX events_created_at ON events (created_at)');
  await client.query('VACUUM ANALYZE events');
}

async function startLoad(): Promise<{ child: ChildProcess; phase(name: string): void; stop(): Promise<Record<string, { writer: number[]; reader: number[] }>> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD, url, 'events', String(RATE), String(ROWS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error(`load process did not start: ${String(first.value)}`);
  return {
    child,
    phase: (name) => child.stdin!.write(`${name}\n`),
    stop: async () => {
      child.stdin!.write('stop\n');
      const result = await lines.next();
      child.stdin!.end();
      return JSON.parse(String(result.value)) as Record<string, { writer: number[]; reader: number[] }>;
    },
  };
}

/** The longest lock wait of any session while `work` runs, sampled every 20 ms. */
async function withLockSampler<T>(work: () => Promise<T>): Promise<{ value: T; longestMs: number }> {
  const sampler = new pg.Client({ connectionString: url });
  await sampler.connect();
  let longest = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const rows = await sampler.query<{ ms: number | null }>('SELECT max(extract(epoch FROM clock_timestamp() - waitstart) * 1000)::float8 AS ms FROM pg_locks WHERE NOT granted');
      longest = Math.max(longest, rows.rows[0]?.ms ?? 0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    return { value: await work(), longestMs: longest };
  } finally {
    running = false;
    await sampling;
    await sampler.end();
  }
}

async function side(client: pg.Client, name: string, partitioned: boolean, run: () => Promise<{ rows: number; note: string }>): Promise<SideResult> {
  process.stdout.write(`  ${name}: filling ${ROWS.toLocaleString('en')} rows ... `);
  await fill(client, partitioned);
  const load = await startLoad();
  await new Promise((r) => setTimeout(r, 2000));
  load.phase('baseline');
  await new Promise((r) => setTimeout(r, BASELINE_S * 1000));
  load.phase('run');
  process.stdout.write('running ... ');
  // One cutoff for both counts: what was expired when the run started must be gone when it ends.
  const cutoff = (await client.query<{ c: Date }>(`SELECT now() - interval '90 days' AS c`)).rows[0]!.c;
  const before = Number((await client.query(`SELECT count(*) AS n FROM events WHERE created_at < $1`, [cutoff])).rows[0].n);
  const started = performance.now();
  const { value, longestMs } = await withLockSampler(run);
  const seconds = (performance.now() - started) / 1000;
  const after = Number((await client.query(`SELECT count(*) AS n FROM events WHERE created_at < $1`, [cutoff])).rows[0].n);
  if (after !== 0) throw new Error(`${name}: ${after} expired rows are left`);
  const samples = await load.stop();
  const result = {
    side: name, seconds, rows: before,
    writer: { base: p99(samples.baseline?.writer ?? []), during: p99(samples.run?.writer ?? []), max: Math.max(0, ...(samples.run?.writer ?? [])) },
    readerP99: p99(samples.run?.reader ?? []), lockWaitMs: longestMs, note: value.note,
  };
  console.log(`${seconds.toFixed(1)} s`);
  return result;
}

const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const client = new pg.Client({ connectionString: url });
await client.connect();
const dm = new DataManager({ config: { databases: [{ url, id: 'bench' }], state: { url }, logLevel: 'error' } });
const results: SideResult[] = [];
try {
  console.log(`datakeep lifecycle benchmark: ${machineNote([`${ROWS.toLocaleString('en')} rows, ${RATE}/s writes and reads`])}`);
  await dm.initialize();
  const naive = async () => ({ rows: await client.query(`DELETE FROM events WHERE created_at < now() - interval '90 days'`).then((r) => r.rowCount ?? 0), note: 'one statement' });
  const datakeep = (action: 'delete' | 'archive') => async () => {
    await dm.setupLifecycleManagement({
      retention: [{ table: 'events', retentionDays: 90, action, allowAll: false }],
      ...(action === 'archive' ? { archival: { enabled: true, destination: join(dir, 'archives') } } : {}),
    });
    const [r] = await dm.lifecycle.run();
    if (!r || r.outcome !== 'done') throw new Error(`datakeep run ended ${r?.outcome}: ${r?.error}`);
    return { rows: r.rowsDeleted, note: `${r.batches} batches, own longest delete ${r.longestLockWaitMs} ms` };
  };
  if (PLAIN) {
    results.push(await side(client, 'naive DELETE', false, naive));
    results.push(await side(client, 'datakeep delete', false, datakeep('delete')));
  }
  if (ARCHIVE) results.push(await side(client, 'datakeep archive+delete', false, datakeep('archive')));
  if (PARTITIONED) {
    results.push(await side(client, 'partitions: DETACH + DROP', true, async () => {
      const expired = await client.query<{ name: string }>(`SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'events'::regclass AND substring(pg_get_expr(c.relpartbound, c.oid) from 'TO \\(''([^'']+)''\\)')::timestamptz <= now() - interval '90 days'`);
      let rows = 0;
      for (const { name } of expired.rows) {
        rows += Number((await client.query(`SELECT count(*) AS n FROM ${name}`)).rows[0].n);
        await client.query(`ALTER TABLE events DETACH PARTITION ${name}`);
        await client.query(`DROP TABLE ${name}`);
      }
      const rest = await client.query(`DELETE FROM events WHERE created_at < now() - interval '90 days'`);
      return { rows: rows + (rest.rowCount ?? 0), note: `${expired.rows.length} partitions dropped, rest deleted in one statement` };
    }));
    results.push(await side(client, 'partitions: datakeep', true, datakeep('delete')));
  }
  console.log('');
  console.log(formatTable(
    ['side', 'time s', 'rows/s', 'writer p99 base ms', 'writer p99 run ms', 'x base', 'writer max run ms', 'reader p99 ms', 'longest lock wait ms', 'goal', 'note'],
    results.map((r) => [
      r.side, r.seconds.toFixed(1), Math.round(r.rows / r.seconds).toLocaleString('en'), r.writer.base.toFixed(2), r.writer.during.toFixed(2),
      (r.writer.during / r.writer.base).toFixed(2), r.writer.max.toFixed(1), r.readerP99.toFixed(2), r.lockWaitMs.toFixed(0),
      r.side.startsWith('datakeep') || r.side === 'partitions: datakeep' ? (r.writer.during <= 2 * r.writer.base && r.lockWaitMs < 100 ? 'met' : 'not met') : '-',
      r.note,
    ]),
    { markdown: true },
  ));
  const naiveSide = results.find((r) => r.side === 'naive DELETE');
  const datakeepSide = results.find((r) => r.side === 'datakeep delete');
  if (naiveSide && datakeepSide) console.log(`\ntime ratio datakeep delete / naive DELETE: ${(datakeepSide.seconds / naiveSide.seconds).toFixed(2)} (datakeep is paced on purpose: at most half the time busy)`);
  console.log(`load avg at the end: ${machineNote()}`);
} finally {
  await dm.close();
  await client.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
