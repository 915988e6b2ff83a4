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
