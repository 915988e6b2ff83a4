import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ThrowawayRedis } from '../support/throwaway-redis.js';
import { freePort } from '../support/free-port.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import { ConfigurationError, ConnectionError, LifecycleError, UsageError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';

const create = async (config: unknown) => getEngine('redis').create(resolveDatabaseConfig(config, 'databases[0]'), { logger: silentLogger });
const adapterFor = (config: DatabaseConfig) => new RedisAdapter(resolveDatabaseConfig(config, 'test'), { logger: silentLogger });
const configError = (field: RegExp) => (error: unknown) => error instanceof ConfigurationError && field.test(error.field);

describe('redis: wrong configuration is a ConfigurationError naming the field', () => {
  const base = { type: 'redis', host: '127.0.0.1', port: 6379 };
  for (const [label, config, field] of [
    ['database "abc"', { ...base, database: 'abc' }, /\.database$/],
    ['database -1', { ...base, database: -1 }, /\.database$/],
    ['database as an object', { ...base, database: { index: 1 } }, /\.database$/],
    ['port as a string', { ...base, port: '6379' }, /\.port$/],
    ['a redis URL with a non-numeric db path', { url: 'redis://127.0.0.1:6379/cache' }, /\.database$/],
    ['an unknown option', { ...base, options: { sentinal: [] } }, /options\.sentinal$/],
    ['sentinels that are not an array', { ...base, options: { sentinels: '127.0.0.1:26379', masterName: 'm' } }, /options\.sentinels$/],
    ['a sentinel without a port', { ...base, options: { sentinels: [{ host: '127.0.0.1' }], masterName: 'm' } }, /options\.sentinels\[0\]\.port$/],
    ['a sentinel port as a string', { ...base, options: { sentinels: [{ host: 'h', port: '26379' }], masterName: 'm' } }, /options\.sentinels\[0\]\.port$/],
    ['sentinels without masterName', { ...base, options: { sentinels: [{ host: 'h', port: 26379 }] } }, /options\.masterName$/],
    ['masterName without sentinels', { ...base, options: { masterName: 'm' } }, /options\.sentinels$/],
    ['sentinelPassword without sentinels', { ...base, options: { sentinelPassword: 'secret-pw' } }, /options\.sentinelPassword$/],
    ['an isolation level', { ...base, isolationLevel: 'serializable' }, /\.isolationLevel$/],
    ['an application name with spaces', { ...base, applicationName: 'my app' }, /\.applicationName$/],
  ] as [string, unknown, RegExp][]) {
    it(label, async () => {
      await assert.rejects(create(config), configError(field));
    });
  }

  it('never shows the sentinel password in the error', async () => {
    await assert.rejects(create({ ...base, options: { sentinelPassword: 'very-secret-sentinel-pw' } }), (error: unknown) => {
      return error instanceof ConfigurationError && !JSON.stringify(error).includes('very-secret-sentinel-pw') && !error.message.includes('very-secret-sentinel-pw');
    });
  });
});

describe('redis: malformed commands are UsageErrors, before anything is sent', () => {
  let server: ThrowawayRedis;
  let adapter: RedisAdapter;
  before(async () => {
    server = await ThrowawayRedis.start({ name: 'redis-bad-input' });
    adapter = adapterFor(server.config);
  });
  after(async () => {
    await adapter?.close();
    await server?.stop();
  });

  it('refuses commands before connect with a LifecycleError', async () => {
    await assert.rejects(adapter.command('PING'), LifecycleError);
    await assert.rejects(adapter.pipeline(['PING']), LifecycleError);
    await assert.rejects(adapter.transaction(async () => undefined), LifecycleError);
  });

  it('refuses malformed lines, empty commands and unsendable values', async () => {
    await adapter.connect();
    const before = adapter.metrics().queries.total;
    for (const bad of ['SET k "unbalanced', "SET k 'open", 'SET k "a"b', '', '   ']) {
      await assert.rejects(adapter.command(bad), (e: unknown) => e instanceof UsageError && e.argument === 'command', JSON.stringify(bad));
    }
    await assert.rejects(adapter.command([]), UsageError);
    await assert.rejects(adapter.command(['SET', 'k', { nested: true }]), (e: unknown) => e instanceof UsageError && e.argument === 'command[2]');
    await assert.rejects(adapter.command(42 as never), UsageError);
    await assert.rejects(adapter.pipeline(['PING', 'SET k "open']), (e: unknown) => e instanceof UsageError && e.argument === 'commands[1]');
    await assert.rejects(adapter.pipeline([]), UsageError);
    assert.equal(adapter.metrics().queries.total, before, 'nothing reached the server');
  });

  it('connect() after close() is a LifecycleError', async () => {
    const other = adapterFor(server.config);
    await other.connect();
    await other.close();
    await assert.rejects(other.connect(), LifecycleError);
    await assert.rejects(other.command('PING'), LifecycleError);
  });
});

describe('redis: connection failures are typed', () => {
  let secured: ThrowawayRedis;
  before(async () => {
    secured = await ThrowawayRedis.start({
      name: 'redis-acl',
      tls: true,
      config: ['requirepass default-pass-123', 'user app on >app-pass-456 ~app:* +@all'],
    });
  });
  after(async () => {
    await secured?.stop();
  });

  it('a port with no server: a retriable ConnectionError after the configured retries', async () => {
    const port = await freePort();
    const adapter = adapterFor({ type: 'redis', host: '127.0.0.1', port, retryAttempts: 1 });
    await assert.rejects(adapter.connect(), (e: unknown) => e instanceof ConnectionError && e.retriable && /ECONNREFUSED/.test(e.message));
    assert.equal(adapter.metrics().connections.failedAttempts, 2);
    await adapter.close();
  });

  it('a wrong password: a non-retriable ConnectionError that does not show the password', async () => {
    const adapter = adapterFor({ ...secured.config, username: 'app', password: 'wrong-password-789' });
    await assert.rejects(adapter.connect(), (e: unknown) => e instanceof ConnectionError && !e.retriable && /username and password/.test(e.message) && !e.message.includes('wrong-password-789'));
    assert.equal(adapter.metrics().connections.failedAttempts, 1, 'an authentication failure is not retried');
    await adapter.close();
  });

  it('an ACL user from the URL form connects, and its permissions apply', async () => {
    const adapter = adapterFor({ url: `redis://app:app-pass-456@127.0.0.1:${secured.port}/0` });
    try {
      await adapter.connect();
      assert.equal(await adapter.command('SET app:k 1'), 'OK');
      await assert.rejects(adapter.command('SET other:k 1'), (e: unknown) => (e as { sqlState?: string }).sqlState === 'NOPERM');
    } finally {
      await adapter.close();
    }
  });

  it('a db index the server does not have: a ConnectionError naming database, not a silent db 0', async () => {
    const adapter = adapterFor({ ...secured.config, password: 'default-pass-123', database: '99' });
    await assert.rejects(adapter.connect(), (e: unknown) => e instanceof ConnectionError && /database/.test(e.message) && /out of range/.test(e.message));
    await adapter.close();
  });

  it('TLS (rediss:// with the CA): connects and verifies the certificate; without the CA it is refused', async () => {
    const ok = adapterFor({ url: `rediss://app:app-pass-456@127.0.0.1:${secured.tlsPort}/0`, ssl: { ca: secured.caPem! } });
    try {
      await ok.connect();
      assert.equal(await ok.command('PING'), 'PONG');
    } finally {
      await ok.close();
    }
    const unverified = adapterFor({ url: `rediss://app:app-pass-456@127.0.0.1:${secured.tlsPort}/0`, retryAttempts: 0 });
    await assert.rejects(unverified.connect(), (e: unknown) => e instanceof ConnectionError && !e.retriable && /TLS/.test(e.message));
    await unverified.close();
  });

  it('Sentinels that do not answer: a ConnectionError, within bounded time', async () => {
    const adapter = adapterFor({ type: 'redis', host: 'nowhere', retryAttempts: 0, options: { sentinels: [{ host: '127.0.0.1', port: await freePort() }], masterName: 'm' } });
    await assert.rejects(adapter.connect(), (e: unknown) => e instanceof ConnectionError && /Sentinel/.test(e.message));
    await adapter.close();
  });
});
