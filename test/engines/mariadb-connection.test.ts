import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { MariadbAdapter } from '../../src/engines/mariadb/mariadb-adapter.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';

/** A loopback port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('mariadb configuration, connection errors and health (127.0.0.1:3306)', () => {
  let db: MariadbTestDatabase;

  before(async () => {
    db = await createMariadbTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('rejects wrong config types with a ConfigurationError naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ poolSize: '10' }, 'db.poolSize'],
      [{ port: 'three' }, 'db.port'],
      [{ timeout: 0 }, 'db.timeout'],
      [{ statementTimeout: 1.5 }, 'db.statementTimeout'],
      [{ ssl: 'yes' }, 'db.ssl'],
      [{ isolationLevel: 'snapshot' }, 'db.isolationLevel'],
      [{ options: { charset: 'utf8' } }, 'db.options.charset'],
    ];
    for (const [patch, field] of cases) {
      assert.throws(
        () => resolveDatabaseConfig({ ...db.config, ...patch }, 'db'),
        (error: unknown) => error instanceof ConfigurationError && error.field === field && error.message.startsWith(`${field}: `),
        `${JSON.stringify(patch)} should name ${field}`,
      );
    }
  });

  it('an unknown database is a non-retriable ConnectionError that says how to fix it, without retries', async () => {
    const adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, database: `${db.name}_missing`, retryAttempts: 3 }, 'db'), { logger: silentLogger });
    const error = await adapter.connect().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
    assert.equal(error.retriable, false);
    assert.match(error.message, /Unknown database/);
    assert.match(error.message, /CREATE DATABASE `[a-z0-9_]+_missing`.*fix the database field/);
    assert.equal(adapter.metrics().connections.failedAttempts, 1, 'a wrong database name is not retried');
    await adapter.close();
  });

  it('a wrong password is a non-retriable ConnectionError that never shows the password', async () => {
    const adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, password: 'not-the-password-4711' }, 'db'), { logger: silentLogger });
    const error = await adapter.connect().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
    assert.equal(error.retriable, false);
    assert.match(error.message, /authentication failed.*Check username and password/);
    assert.doesNotMatch(JSON.stringify(error) + error.message, /not-the-password-4711/);
    await adapter.close();
  });

  it('a closed port is retried while connecting, then fails with a retriable ConnectionError', async () => {
    const adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, port: await closedPort(), retryAttempts: 1 }, 'db'), { logger: silentLogger });
    const error = await adapter.connect().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
    assert.equal(error.retriable, true);
    assert.match(error.message, /cannot connect: .*ECONNREFUSED/);
    assert.equal(adapter.metrics().connections.failedAttempts, 2);
    await adapter.close();
  });

  it('the engine registry builds this adapter for mariadb:// and mysql:// URLs, and health reports the server', async () => {
    for (const scheme of ['mariadb', 'mysql'] as const) {
      const config = resolveDatabaseConfig({ url: `${scheme}://${db.config.username}@${db.config.host}:${db.config.port}/${db.name}`, poolSize: 2 }, 'db');
      const adapter = await getEngine(config.type).create(config, { logger: silentLogger });
      assert.ok(adapter instanceof MariadbAdapter);
      assert.equal(adapter.type, scheme);
      assert.equal(adapter.capabilities.twoPhase, 'xa');
      await adapter.connect();
      try {
        assert.deepEqual(await adapter.query('SELECT DATABASE() AS db'), [{ db: db.name }]);
        const health = await adapter.health();
        assert.equal(health.status, 'healthy', health.reasons.join('; '));
        assert.match(health.serverVersion ?? '', /MariaDB/);
        assert.equal(health.inRecovery, false, 'this server is not a replica');
        assert.deepEqual(health.details, { flavor: 'MariaDB', readOnly: false });
        assert.ok(health.pool && health.pool.total >= 1 && health.pool.idle >= 1 && health.pool.waiting === 0);
        assert.equal(adapter.metrics().connections.max, 2);
      } finally {
        await adapter.close();
      }
      assert.equal((await adapter.health()).status, 'unhealthy');
    }
  });
});
