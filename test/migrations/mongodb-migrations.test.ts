import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import { migrationDir } from '../support/migration-files.js';

const MONGODB_URL = process.env.MONGODB_URL;
const skip = MONGODB_URL ? false : 'MONGODB_URL not set: no MongoDB server here, so the MongoDB migration tests did not run';

/** MongoDB migrations are modules; the history is a collection and the lock a lease document. */
describe('migrations on MongoDB', () => {
  const suffix = randomBytes(4).toString('hex');
  const table = `dk_test_migrations_${suffix}`;
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('applies modules with history and a lease, concurrently once, and rolls back', { skip }, async () => {
    const d = migrationDir({
      'docs/1_users.ts': `export async function up(ctx) { await ctx.adapter.command({ insert: 'users_${suffix}', documents: [{ _id: 1, name: 'ada' }] }); }\nexport async function down(ctx) { await ctx.adapter.command({ delete: 'users_${suffix}', filter: {}, many: true }); }\n`,
      'docs/2_index.ts': `export async function up(ctx) { await ctx.adapter.command({ runCommand: { createIndexes: 'users_${suffix}', indexes: [{ key: { name: 1 }, name: 'by_name' }] } }); }\nexport async function down(ctx) { await ctx.adapter.command({ runCommand: { dropIndexes: 'users_${suffix}', index: 'by_name' } }); }\n`,
    });
    dirs.push(d);
    const make = () => new DataManager({ config: { databases: [{ url: MONGODB_URL!, id: 'docs' }], logLevel: 'error' } });
    const managers = [make(), make(), make()];
    try {
      for (const dm of managers) {
        await dm.initialize();
        await dm.initializeMigrations({ directory: d, tableName: table });
      }
      const results = await Promise.all(managers.map((dm) => dm.migrate()));
      assert.deepEqual(results.flatMap((r) => r.migrationsExecuted.map((m) => m.version)).sort(), ['1', '2']);
      const dm = managers[0]!;
      const history = (await dm.queryDatabase('docs', { find: table, filter: {}, sort: { at: 1 } })) as { version: string; status: string }[];
      assert.deepEqual(history.map((h) => `${h.version}:${h.status}`), ['1:running', '1:applied', '2:running', '2:applied']);
      const rolled = await dm.rollback('0');
      assert.deepEqual(rolled.migrationsRolledBack.map((m) => m.version), ['2', '1']);
      assert.deepEqual(await dm.queryDatabase('docs', { find: `users_${suffix}`, filter: {} }), []);
      const locks = await dm.migrations.locks();
      assert.equal(locks[0]!.holder, undefined, 'the lease was released');
      await dm.queryDatabase('docs', { runCommand: { drop: table } });
      await dm.queryDatabase('docs', { runCommand: { drop: `${table}_lock` } }).catch(() => undefined);
      await dm.queryDatabase('docs', { runCommand: { drop: `users_${suffix}` } }).catch(() => undefined);
    } finally {
      await Promise.all(managers.map((m) => m.close()));
    }
  });
});
