import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runCliCaptured } from '../support/cli-run.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

/** The lifecycle through the CLI only, as a user with a config file would drive it. */
describe('datakeep lifecycle and archive (CLI)', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  let configFile: string;
  const saved = process.env.DATAKEEP_REPO_PASSPHRASE;

  before(async () => {
    process.env.DATAKEEP_REPO_PASSPHRASE = 'cli-lifecycle-passphrase';
    db = await createTestDatabase('dk_lc_cli');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE sessions (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, token text)');
    await client.query(`INSERT INTO sessions (created_at, expires_at, token) SELECT now() - g * interval '1 hour', now() - g * interval '1 hour' + interval '24 hours', md5(g::text) FROM generate_series(1, 500) g`);
    await client.query('CREATE TABLE orders (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, total numeric(12,2))');
    await client.query(`INSERT INTO orders (created_at, total) SELECT now() - g * interval '1 day' + interval '1 hour', g * 1.25 FROM generate_series(1, 400) g`);
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-cli-'));
    configFile = join(dir, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({
      databases: [db.url],
      // A state store on the local PostgreSQL: each command opens it, which the embedded one makes slow under load.
      state: { url: db.url },
      logLevel: 'error',
      lifecycle: {
        archival: { enabled: true, destination: join(dir, 'archives'), rules: [{ table: 'orders', ageThreshold: 365, priority: 1 }] },
        cleanup: { enabled: true, schedule: '0 3 * * 0', batchSize: 100, rules: [{ name: 'expired-sessions', table: 'sessions', expiresColumn: 'expires_at' }] },
      },
    }));
  });

  after(async () => {
    await client?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE;
    else process.env.DATAKEEP_REPO_PASSPHRASE = saved;
  });

  it('plans, runs, records and restores through the CLI', async () => {
    const expiredSessions = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE expires_at < now()')).rows[0]!.n;
    const plan = await runCliCaptured(['lifecycle', 'plan', '--json'], configFile);
    assert.equal(plan.code, 0, plan.io.stderr.join('\n'));
    const policies = plan.io.json<{ policies: { policy: string; rows: number; total: number }[] }>().policies;
    assert.deepEqual(policies.map((p) => p.policy).sort(), ['archival:orders', 'expired-sessions']);
    assert.equal(policies.find((p) => p.policy === 'expired-sessions')!.rows, expiredSessions);
    assert.equal(policies.find((p) => p.policy === 'archival:orders')!.rows, 35);

    const dry = await runCliCaptured(['lifecycle', 'run', '--dry-run'], configFile);
    assert.equal(dry.code, 0);
    assert.equal((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions')).rows[0]!.n, 500);

    const run = await runCliCaptured(['lifecycle', 'run'], configFile);
    assert.equal(run.code, 0, run.io.stderr.join('\n'));
    assert.match(run.io.stdout.join('\n'), /expired-sessions: done; deleted \d+/);
    assert.match(run.io.stdout.join('\n'), /archival:orders: done; deleted 35, archived 35 in 1 archive/);
    assert.equal((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE expires_at < now()')).rows[0]!.n, 0);

    const history = await runCliCaptured(['lifecycle', 'history', '--json'], configFile);
    assert.equal(history.io.json<{ runs: { status: string }[] }>().runs.length, 2);

    const list = await runCliCaptured(['archive', 'list', '--json'], configFile);
    const archives = list.io.json<{ archives: { archiveId: string; rows: number }[] }>().archives;
    assert.equal(archives.length, 1);
    const show = await runCliCaptured(['archive', 'show', archives[0]!.archiveId, '--rows', '2'], configFile);
    assert.equal(show.code, 0);
    assert.match(show.io.stdout.join('\n'), /35 rows of orders/);

    await client.query('CREATE TABLE orders_restored (LIKE orders INCLUDING ALL)');
    const restore = await runCliCaptured(['archive', 'restore', archives[0]!.archiveId, '--into', 'orders_restored'], configFile);
    assert.equal(restore.code, 0, restore.io.stderr.join('\n'));
    assert.equal((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM orders_restored')).rows[0]!.n, 35);
    const again = await runCliCaptured(['archive', 'restore', archives[0]!.archiveId, '--into', 'orders_restored'], configFile);
    assert.equal(again.code, 1);
    assert.match(again.io.stderr.join('\n'), /already holds a row/);
  });

  it('names bad arguments and unknown policies', async () => {
    const unknown = await runCliCaptured(['lifecycle', 'run', '--policy', 'nope'], configFile);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.io.stderr.join('\n'), /no such policy; the policies are: archival:orders, expired-sessions/);
    const limit = await runCliCaptured(['lifecycle', 'history', '--limit', 'x'], configFile);
    assert.equal(limit.code, 2);
    const missing = await runCliCaptured(['archive', 'show', 'no-such-archive'], configFile);
    assert.notEqual(missing.code, 0);
    assert.match(missing.io.stderr.join('\n'), /no archive "no-such-archive"|no archive has been written there yet/);
  });
});
