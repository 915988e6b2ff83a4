import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { resolveDatabaseConfig, resolveDatabaseConfigs } from '../../src/config/resolve-database-config.js';
import { ConfigurationError } from '../../src/errors/index.js';

function configError(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigurationError, `expected ConfigurationError, got ${String(error)}`);
    assert.equal(error.code, 'DK_CONFIG');
    return error;
  }
  assert.fail('expected a ConfigurationError');
}

describe('database configuration', () => {
  it("accepts the seed's PostgreSQL config and derives the id", () => {
    const c = resolveDatabaseConfig({ type: 'postgresql', host: 'localhost', port: 5432, database: 'app_db', username: 'user', password: 'pass' }, 'databases[0]');
    assert.equal(c.id, 'postgresql-localhost-app_db');
    assert.equal(c.poolSize, 10);
    assert.equal(c.password, 'pass');
  });

  it("derives the seed's redis id redis-localhost-0", () => {
    const c = resolveDatabaseConfig({ type: 'redis', host: 'localhost', port: 6379, database: '0' }, 'databases[1]');
    assert.equal(c.id, 'redis-localhost-0');
  });

  it('parses URLs, with explicit fields overriding them', () => {
    const c = resolveDatabaseConfig({ url: 'postgres://app:s3cr%40t@db.internal:6543/orders?sslmode=require&application_name=api', poolSize: 4 }, 'd');
    assert.equal(c.type, 'postgresql');
    assert.equal(c.host, 'db.internal');
    assert.equal(c.port, 6543);
    assert.equal(c.database, 'orders');
    assert.equal(c.username, 'app');
    assert.equal(c.password, 's3cr@t');
    assert.deepEqual(c.ssl, { rejectUnauthorized: false });
    assert.equal(c.applicationName, 'api');
    assert.equal(c.poolSize, 4);
  });

  it('accepts a bare URL string', () => {
    assert.equal(resolveDatabaseConfig('redis://localhost:6380/2', 'd').id, 'redis-localhost-2');
    assert.equal(resolveDatabaseConfig('mongodb://a:27017,b:27017/app?replicaSet=rs0', 'd').host, 'a');
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['missing host', { type: 'postgresql', port: 5432, database: 'x' }, 'databases[0].host', /missing.*host name/],
    ['port 70000', { type: 'postgresql', host: 'h', port: 70000, database: 'x' }, 'databases[0].port', /70000 is out of range.*between 1 and 65535/],
    ['port as string', { type: 'postgresql', host: 'h', port: '5432', database: 'x' }, 'databases[0].port', /expected an integer/],
    ['unknown type', { type: 'oracle', host: 'h' }, 'databases[0].type', /"oracle" is not a supported database type.*postgresql/],
    ['poolSize 0', { type: 'postgresql', host: 'h', poolSize: 0 }, 'databases[0].poolSize', /0 is out of range.*between 1/],
    ['bad URL scheme', { url: 'http://example.com/db' }, 'databases[0].url', /scheme "http:" is not a database URL.*postgres:\/\//],
    ['typo in a field', { type: 'postgresql', host: 'h', pool_size: 3 }, 'databases[0].pool_size', /Did you mean "poolSize"/],
    ['non-numeric redis db', { type: 'redis', host: 'h', database: 'abc' }, 'databases[0].database', /not a Redis database index/],
    ['negative retryAttempts', { type: 'postgresql', host: 'h', retryAttempts: -1 }, 'databases[0].retryAttempts', /out of range/],
    ['ssl of the wrong type', { type: 'postgresql', host: 'h', ssl: 'yes' }, 'databases[0].ssl', /expected true, false or/],
    ['unreadable CA file', { type: 'postgresql', host: 'h', ssl: { ca: '/nonexistent/ca.pem' } }, 'databases[0].ssl.ca', /cannot be read/],
    ['type contradicting URL', { type: 'redis', url: 'postgres://h/db' }, 'databases[0].type', /contradicts/],
    ['not an object', 42, 'databases[0]', /expected an object or a URL string/],
  ];
  for (const [name, input, field, message] of bad) {
    it(`rejects ${name}, naming ${field}`, () => {
      const error = configError(() => resolveDatabaseConfig(input, 'databases[0]'));
      assert.equal(error.field, field);
      assert.match(error.message, message);
    });
  }

  it('rejects duplicate ids and two defaults', () => {
    const dup = configError(() => resolveDatabaseConfigs([{ type: 'postgresql', host: 'h' }, { type: 'postgresql', host: 'h' }], 'databases'));
    assert.equal(dup.field, 'databases[1].id');
    const defaults = configError(() => resolveDatabaseConfigs([{ type: 'postgresql', host: 'a', default: true }, { type: 'postgresql', host: 'b', default: true }], 'databases'));
    assert.match(defaults.message, /Mark only one/);
  });

  it('never shows the password in JSON, inspect, spread or errors', () => {
    const password = 'hunter2-very-secret';
    const c = resolveDatabaseConfig({ type: 'postgresql', host: 'h', password }, 'd');
    assert.equal(c.password, password);
    assert.ok(!JSON.stringify(c).includes(password));
    assert.ok(!inspect(c, { depth: 5 }).includes(password));
    assert.ok(!JSON.stringify({ ...c }).includes(password));
    const fromUrl = resolveDatabaseConfig({ url: `postgres://u:${password}x@h/db` }, 'd');
    assert.ok(!JSON.stringify(fromUrl).includes(password));
    assert.ok(!inspect(fromUrl).includes(password));
    // A URL with a password inside an error message is redacted.
    const error = configError(() => resolveDatabaseConfig({ url: `ftp://u:${password}@h/db` }, 'd'));
    assert.ok(!error.message.includes(password));
    assert.ok(!JSON.stringify(error).includes(password));
  });
});
