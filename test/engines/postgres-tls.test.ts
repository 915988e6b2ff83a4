import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { PostgresAdapter } from '../../src/engines/postgres/postgres-adapter.js';
import { ConnectionError } from '../../src/errors/index.js';
import type { Logger } from '../../src/util/logger.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

/** Trust authentication ignores it; it is here to prove that no error or log line ever shows it. */
const PASSWORD = 'tls-Secret-7c1f9e';

describe('postgresql adapter over TLS (throwaway cluster with a self-signed CA)', () => {
  let cluster: ThrowawayPostgres;
  const adapters: PostgresAdapter[] = [];
  const logLines: string[] = [];
  const logger: Logger = { log: (level, message, fields) => logLines.push(JSON.stringify({ level, message, ...fields })) };
  let counter = 0;

  function newAdapter(overrides: Partial<DatabaseConfig>): PostgresAdapter {
    counter += 1;
    const config = resolveDatabaseConfig({ ...cluster.config, id: `tls-${counter}`, password: PASSWORD, retryAttempts: 0, timeout: 5_000, ...overrides }, 'test');
    const adapter = new PostgresAdapter(config, { logger });
    adapters.push(adapter);
    return adapter;
  }

  async function sslInUse(adapter: PostgresAdapter): Promise<boolean> {
    const rows = await adapter.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(rows.length, 1);
    return rows[0]!.ssl;
  }

  /** The failure of `adapter.connect()`, checked to be a ConnectionError that does not leak the password. */
  async function connectFailure(adapter: PostgresAdapter): Promise<ConnectionError> {
    const error = await adapter.connect().then(
      () => assert.fail('connect() succeeded but should have failed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${inspect(error)}`);
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: 10 })]) {
      assert.ok(!text.includes(PASSWORD), `the password appears in: ${text}`);
    }
    return error;
  }

  before(async () => {
    cluster = await ThrowawayPostgres.start({
      name: 'tls',
      tls: true,
      // One database that refuses unencrypted connections, for the "server demands TLS" case.
      hba: ['hostnossl tls_only all 127.0.0.1/32 reject'],
    });
    await cluster.query('CREATE DATABASE tls_only');
  });

  after(async () => {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
    await cluster?.destroy();
    for (const line of logLines) assert.ok(!line.includes(PASSWORD), `the password appears in a log line: ${line}`);
  });

  it('verifies the server against ssl.ca (a file path) and the session is encrypted', async () => {
    const adapter = newAdapter({ ssl: { ca: cluster.tls!.caFile } });
    await adapter.connect();
    assert.equal(await sslInUse(adapter), true);
    assert.equal((await adapter.health()).status, 'healthy');
  });

  it('accepts ssl.ca as PEM text', async () => {
    const adapter = newAdapter({ ssl: { ca: cluster.tls!.caPem } });
    await adapter.connect();
    assert.equal(await sslInUse(adapter), true);
  });

  it('ssl: false on the same server gives an unencrypted session (so the check above is not vacuous)', async () => {
    const adapter = newAdapter({ ssl: false });
    await adapter.connect();
    assert.equal(await sslInUse(adapter), false);
  });

  it('ssl: true without the CA fails with a ConnectionError that says to give ssl.ca, is not retriable, and keeps the TLS error as cause', async () => {
    const error = await connectFailure(newAdapter({ ssl: true }));
    assert.match(error.message, /ssl\.ca/);
    assert.equal(error.retriable, false, 'an untrusted certificate does not fix itself; retrying is pointless');
    assert.match(String((error.cause as { code?: string } | undefined)?.code), /CERT|VERIFY|SIGNATURE|ISSUER/);
  });

  it('ssl.rejectUnauthorized: false connects without verification (the documented unsafe escape hatch)', async () => {
    const adapter = newAdapter({ ssl: { rejectUnauthorized: false } });
    await adapter.connect();
    assert.equal(await sslInUse(adapter), true);
  });

  it('a certificate that does not name the host fails verification even with the right CA', async () => {
    const error = await connectFailure(newAdapter({ ssl: { ca: cluster.tls!.caFile, servername: 'db.example.invalid' } }));
    assert.equal((error.cause as { code?: string } | undefined)?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(error.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('the hint for a host-name mismatch points at the host name, not at ssl.ca', async () => {
    const error = await connectFailure(newAdapter({ ssl: { ca: cluster.tls!.caFile, servername: 'db.example.invalid' } }));
    assert.match(error.message, /servername|host name/i);
    assert.doesNotMatch(error.message, /Give ssl\.ca/);
  });

  it('a server that demands TLS refuses ssl: false with a ConnectionError', async () => {
    const error = await connectFailure(newAdapter({ ssl: false, database: 'tls_only' }));
    assert.match(error.message, /no encryption/);
  });

  it('the refusal of an unencrypted connection says to turn ssl on', async () => {
    const error = await connectFailure(newAdapter({ ssl: false, database: 'tls_only' }));
    assert.match(error.message, /\bssl\b/);
  });

  it('with the CA, the TLS-only database accepts the connection', async () => {
    const adapter = newAdapter({ ssl: { ca: cluster.tls!.caFile }, database: 'tls_only' });
    await adapter.connect();
    assert.equal(await sslInUse(adapter), true);
  });
});

describe('postgresql adapter asking for TLS from a server without it', () => {
  let plain: ThrowawayPostgres;

  before(async () => {
    plain = await ThrowawayPostgres.start({ name: 'no-tls' });
  });
  after(async () => {
    await plain?.destroy();
  });

  it('fails with a ConnectionError that says to enable ssl on the server or set ssl: false', async () => {
    const adapter = new PostgresAdapter(
      resolveDatabaseConfig({ ...plain.config, id: 'no-tls', password: PASSWORD, ssl: true, retryAttempts: 0 }, 'test'),
      { logger: { log() {} } },
    );
    try {
      const error = await adapter.connect().then(() => assert.fail('connect() succeeded over a server without TLS'), (e: unknown) => e);
      assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${inspect(error)}`);
      assert.match(error.message, /ssl: false/);
      assert.ok(!inspect(error, { depth: 10 }).includes(PASSWORD));
    } finally {
      await adapter.close();
    }
  });
});
