import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataManager, MigrationError } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { migrationDir } from '../support/migration-files.js';

const repo = new URL('../..', import.meta.url).pathname;
const REDIS = process.env.DATAKEEP_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** Redis migrations are modules; history is a stream and the lock a lease, both under a per-test key prefix. */
describe('migrations on Redis', () => {
  const prefix = `dk_test_mig_${randomBytes(4).toString('hex')}`;
  const dirs: string[] = [];
  let stateDb: TestDatabase;
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    const dm = new DataManager({ config: { databases: [{ url: REDIS, id: 'cache' }], logLevel: 'error' } });
    await dm.initialize();
    const keys = (await dm.queryDatabase('cache', ['KEYS', `${prefix}*`])) as string[];
    if (keys.length) await dm.queryDatabase('cache', ['DEL', ...keys]);
    await dm.close();
    await stateDb?.drop();
  });

  const files = (tag: string): Record<string, string> => ({
    '1_seed.ts': `export async function up(ctx) { await ctx.adapter.command(['SET', '${prefix}:${tag}:config', 'v1']); }\nexport async function down(ctx) { await ctx.adapter.command(['DEL', '${prefix}:${tag}:config']); }\n`,
    '2_counter.ts': `export async function up(ctx) { await ctx.adapter.command(['INCR', '${prefix}:${tag}:runs']); }\nexport async function down(ctx) { await ctx.adapter.command(['DECR', '${prefix}:${tag}:runs']); }\n`,
    '3_hash.js': `export async function up(ctx) { await ctx.adapter.command(['HSET', '${prefix}:${tag}:h', 'f', '1']); }\n`,
  });

  it('applies modules, records history in a stream, and rolls back', async () => {
    const d = migrationDir({ 'cache/1_seed.ts': files('a')['1_seed.ts']!, 'cache/2_counter.ts': files('a')['2_counter.ts']!, 'cache/3_hash.js': files('a')['3_hash.js']! });
    dirs.push(d);
    stateDb = await createTestDatabase('dk_mig_state');
    const dm = new DataManager({ config: { databases: [{ url: REDIS, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
    try {
      await dm.initializeMigrations({ directory: d, tableName: prefix });
      const result = await dm.migrate();
      assert.deepEqual(result.migrationsExecuted.map((m) => `${m.database}:${m.version}`), ['cache:1', 'cache:2', 'cache:3']);
      assert.equal(await dm.queryDatabase('cache', ['GET', `${prefix}:a:config`]), 'v1');
      const stream = (await dm.queryDatabase('cache', ['XLEN', `${prefix}:history`])) as number;
      assert.equal(stream, 6, 'running + applied per migration, append-only');
      assert.equal((await dm.migrate()).migrationsExecuted.length, 0);
      const blocked = await dm.rollback('0').then(() => undefined, (e: unknown) => e);
      assert.ok(blocked instanceof MigrationError && blocked.reason === 'missing-down' && /3_hash\.js has no down part/.test(blocked.message));
      writeFileSync(join(d, 'cache', '3_hash.js'), `export async function up() {}\nexport async function down(ctx) { await ctx.adapter.command(['DEL', '${prefix}:a:h']); }\n`);
      const rolled = await dm.rollback('1');
      assert.deepEqual(rolled.migrationsRolledBack.map((m) => m.version), ['3', '2']);
      assert.equal(await dm.queryDatabase('cache', ['GET', `${prefix}:a:runs`]), '0');
      assert.equal(await dm.queryDatabase('cache', ['EXISTS', `${prefix}:a:h`]), 0);
      assert.deepEqual((await dm.migrations.status()).map((s) => `${s.version}:${s.state}`), ['1:applied', '2:rolled_back', '3:rolled_back']);
    } finally {
      await dm.close();
    }
  });

  it('eight processes migrating at once apply each migration exactly once', async () => {
    const d = migrationDir(Object.fromEntries(Object.entries(files('b')).map(([name, text]) => [`cache/${name}`, text])));
    dirs.push(d);
    const table = `${prefix}_race`;
    const runs = Array.from({ length: 8 }, () => new Promise<{ ok: boolean; executed?: string[]; message?: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test/support/migrate-worker.ts'), JSON.stringify({ url: REDIS, id: 'cache' }), d, table, '60000'], { cwd: repo, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.on('close', () => {
        const line = out.trim().split('\n').pop();
        if (line) resolve(JSON.parse(line));
        else reject(new Error('worker printed nothing'));
      });
    }));
    const results = await Promise.all(runs);
    assert.ok(results.every((r) => r.ok), JSON.stringify(results));
    assert.deepEqual(results.flatMap((r) => r.executed ?? []).sort(), ['1', '2', '3']);
    const dm = new DataManager({ config: { databases: [{ url: REDIS, id: 'cache' }], logLevel: 'error' } });
    await dm.initialize();
    try {
      assert.equal(await dm.queryDatabase('cache', ['GET', `${prefix}:b:runs`]), '1', 'the counter migration ran once');
      assert.equal(await dm.queryDatabase('cache', ['EXISTS', `${table}:lock`]), 0, 'the lease was released');
    } finally {
      await dm.close();
    }
  });
});
