// Migration bookkeeping at scale: apply 500 small migrations, bring the total to 2,000 applied, then time `status`
// and `validate` (Flyway's users report over 50 s to validate 4,400). Goal: validate of 2,000 under 1 s.
// Run: node --import tsx bench/migrations.ts [--validate-runs=5]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DataManager } from '../src/index.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import { median } from './support/stats.js';

const ADMIN = process.env.DATAKEEP_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOTAL = Number(process.env.DK_BENCH_MIGRATIONS ?? 2000);
const FIRST = Number(process.env.DK_BENCH_FIRST_BATCH ?? 500);
const RUNS = Number(/--validate-runs=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 5);

const dbName = `dk_bench_mig_${process.pid}`;
const admin = new pg.Client({ connectionString: ADMIN });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = ADMIN.replace(/\/[^/]*$/, `/${dbName}`);
const dir = mkdtempSync(join(tmpdir(), 'dk-bench-mig-'));
const write = (from: number, to: number) => {
  for (let i = from; i <= to; i += 1) {
    const version = String(20200101000000 + i);
    writeFileSync(join(dir, `${version}_step_${i}.sql`), `-- migrate:up\nCREATE TABLE t_${i} (id integer PRIMARY KEY, note text);\n\n-- migrate:down\nDROP TABLE t_${i};\n`);
  }
};

const dm = new DataManager({ config: { databases: [{ url, id: 'bench' }], state: { url }, logLevel: 'error' } });
try {
  console.log(`datakeep migrations benchmark: ${machineNote()}`);
  await dm.initialize();
  await dm.initializeMigrations({ directory: dir, tableName: 'schema_migrations' });
  write(1, FIRST);
  let t = performance.now();
  const first = await dm.migrate();
  const firstMs = performance.now() - t;
  write(FIRST + 1, TOTAL);
  t = performance.now();
  const rest = await dm.migrate();
  const restMs = performance.now() - t;
  const statusTimes: number[] = [];
  const validateTimes: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    t = performance.now();
    const status = await dm.migrations.status();
    statusTimes.push(performance.now() - t);
    if (status.length !== TOTAL) throw new Error(`status listed ${status.length}`);
    t = performance.now();
    const report = await dm.migrations.validate();
    validateTimes.push(performance.now() - t);
    if (!report.valid || report.checked !== TOTAL) throw new Error('validation failed');
  }
  const rows = [
    [`apply ${first.migrationsExecuted.length} small migrations`, `${(firstMs / 1000).toFixed(2)} s`, `${(firstMs / first.migrationsExecuted.length).toFixed(1)} ms`],
    [`apply ${rest.migrationsExecuted.length} more (to ${TOTAL})`, `${(restMs / 1000).toFixed(2)} s`, `${(restMs / rest.migrationsExecuted.length).toFixed(1)} ms`],
    [`status with ${TOTAL} applied (median of ${RUNS})`, `${median(statusTimes).toFixed(0)} ms`, `${((median(statusTimes) * 1000) / TOTAL).toFixed(1)} µs`],
    [`validate with ${TOTAL} applied (median of ${RUNS})`, `${median(validateTimes).toFixed(0)} ms`, `${((median(validateTimes) * 1000) / TOTAL).toFixed(1)} µs`],
  ];
  console.log(formatTable(['operation', 'time', 'per migration'], rows, { markdown: true }));
  console.log(`validate goal: < 1000 ms for 2,000 -> ${median(validateTimes) < 1000 ? 'met' : 'NOT met'} (${median(validateTimes).toFixed(0)} ms)`);
} finally {
  await dm.close();
  rmSync(dir, { recursive: true, force: true });
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
