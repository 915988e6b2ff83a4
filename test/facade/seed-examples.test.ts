import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import { prepareSeedDatabase } from '../support/seed-fixtures.js';

// The seed's "Basic Setup", "Database Operations" and "Health Monitoring" examples, as written there.
describe('seed examples, unchanged', () => {
  before(prepareSeedDatabase);

  it('Basic Setup, Database Operations, Health Monitoring', async () => {
    const dataManager = new DataManager();
    await dataManager.initialize([
      {
        type: 'postgresql',
        host: 'localhost',
        port: 5432,
        database: 'app_db',
        username: 'user',
        password: 'pass'
      },
      {
        type: 'redis',
        host: 'localhost',
        port: 6379,
        database: '0'
      }
    ]);
    try {
      const users = await dataManager.query('SELECT * FROM users WHERE active = ?', [true]);
      assert.deepEqual(users.map((u) => u.name).sort(), ['ada', 'cy']);

      const userId = users[0]!.id;
      const rowsAffected = await dataManager.execute('UPDATE users SET last_login = NOW() WHERE id = ?', [userId]);
      assert.equal(rowsAffected, 1);

      const rows = await dataManager.queryDatabase('postgresql-localhost-app_db', 'SELECT name FROM users WHERE id = ?', [userId]);
      assert.equal((rows as { name: string }[])[0]!.name, users[0]!.name);

      // Query specific database
      await dataManager.queryDatabase('redis-localhost-0', `SET user:123 "${users[0]!.name}"`);
      const cacheData = await dataManager.queryDatabase('redis-localhost-0', 'GET user:123');
      assert.equal(cacheData, users[0]!.name);
      await dataManager.queryDatabase('redis-localhost-0', 'DEL user:123');

      const healthStatuses = await dataManager.getHealthStatus();
      for (const [adapterId, status] of healthStatuses) {
        console.log(`${adapterId}: ${status.status} (${status.latency}ms)`);
        assert.equal(status.status, 'healthy');
      }
      assert.deepEqual([...healthStatuses.keys()], ['postgresql-localhost-app_db', 'redis-localhost-0']);
      const metrics = await dataManager.getMetrics();
      for (const [adapterId, metric] of metrics) {
        console.log(`${adapterId}: ${metric.queries.total} queries, ${metric.connections.active} active connections`);
        assert.ok(metric.queries.total >= 3, `${adapterId} counted its queries`);
      }
      const validation = await dataManager.validateSystem();
      assert.equal(validation.valid, true, validation.errors.join('; '));
    } finally {
      await dataManager.close();
    }
  });
});

// The seed's "Lifecycle Management" example, as written there (its './archives' is relative to the working directory,
// so the test runs it from a scratch directory).
describe('seed example: Lifecycle Management, unchanged', () => {
  before(prepareSeedDatabase);

  it('schedules the seed\'s policies, and a run deletes audit_logs after 90 days and archives old_transactions after 365', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const pg = (await import('pg')).default;
    const { PG_ADMIN_URL } = await import('../support/postgres-server.js');
    const url = new URL(PG_ADMIN_URL);
    url.pathname = '/app_db';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const cwd = process.cwd();
    const scratch = mkdtempSync(join(tmpdir(), 'datakeep-seed-lifecycle-'));
    const passphrase = process.env.DATAKEEP_REPO_PASSPHRASE;
    process.env.DATAKEEP_REPO_PASSPHRASE = 'seed-example-passphrase';
    process.chdir(scratch);
    const dataManager = new DataManager();
    try {
      await client.query('DROP TABLE IF EXISTS audit_logs, old_transactions');
      await client.query('CREATE TABLE audit_logs (id serial PRIMARY KEY, created_at timestamptz NOT NULL, what text)');
      await client.query('CREATE TABLE old_transactions (id serial PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12, 2))');
      await client.query(`INSERT INTO audit_logs (created_at, what) SELECT now() - g * interval '1 day' + interval '1 hour', 'event ' || g FROM generate_series(1, 200) g`);
      await client.query(`INSERT INTO old_transactions (created_at, amount) SELECT now() - g * interval '1 day' + interval '1 hour', g FROM generate_series(1, 500) g`);
      await client.query('GRANT ALL ON audit_logs, old_transactions TO "user"');
      await dataManager.initialize([{ type: 'postgresql', host: 'localhost', port: 5432, database: 'app_db', username: 'user', password: 'pass' }]);

      // Setup data lifecycle policies
      await dataManager.setupLifecycleManagement({
        retention: [
          {
            table: 'audit_logs',
            retentionDays: 90,
            action: 'delete'
          }
        ],
        archival: {
          enabled: true,
          destination: './archives',
          rules: [
            {
              table: 'old_transactions',
              ageThreshold: 365,
              priority: 1
            }
          ]
        },
        cleanup: {
          enabled: true,
          schedule: '0 3 * * 0', // Weekly
          batchSize: 1000
        }
      });

      const results = await dataManager.lifecycle.run();
      assert.deepEqual(results.map((r) => [r.policy, r.outcome]), [['archival:old_transactions', 'done'], ['retention:audit_logs', 'done']]);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM audit_logs WHERE created_at < now() - interval \'90 days\'')).rows[0].n, 0);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n, 90);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM old_transactions')).rows[0].n, 365);
      const [archive] = await dataManager.lifecycle.archives.list();
      assert.equal(archive!.rows, 135);
      assert.ok(archive!.repository.startsWith(join(scratch, 'archives')));
    } finally {
      await dataManager.close();
      process.chdir(cwd);
      rmSync(scratch, { recursive: true, force: true });
      await client.query('DROP TABLE IF EXISTS audit_logs, old_transactions');
      await client.end();
      if (passphrase === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE;
      else process.env.DATAKEEP_REPO_PASSPHRASE = passphrase;
    }
  });
});
