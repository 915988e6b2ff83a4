import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import {
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoParseError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoTransactionError,
} from 'mongodb';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import {
  CapabilityError,
  CircuitOpenError,
  ConfigurationError,
  ConnectionError,
  LifecycleError,
  QueryError,
  TimeoutError,
  TransactionError,
  UsageError,
} from '../../src/errors/index.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { mapMongoError } from '../../src/engines/mongodb/map-mongo-error.js';
import { MongodbAdapter } from '../../src/engines/mongodb/mongodb-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

const PASSWORD = 'S3cret-pw-never-shown';
const timeouts = { connect: 1000, statement: 2000 };

describe('mapMongoError (driver errors to datakeep errors)', () => {
  it('a server error becomes a QueryError whose sqlState is the codeName, keeping the driver error as cause', () => {
    const raw = new MongoServerError({ ok: 0, code: 11000, codeName: 'DuplicateKey', errmsg: 'E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: "a@b.c" }' });
    const error = mapMongoError('m', raw, 'query', timeouts);
    assert.ok(error instanceof QueryError);
    assert.equal(error.code, 'DK_QUERY');
    assert.equal(error.sqlState, 'DuplicateKey');
    assert.equal(error.constraint, 'email_1');
    assert.equal(error.table, 'users');
    assert.equal(error.cause, raw);
    assert.match(error.message, /^m: E11000 duplicate key/);
  });

  it('validation details travel in detail', () => {
    const raw = new MongoServerError({ ok: 0, code: 121, codeName: 'DocumentValidationFailure', errmsg: 'Document failed validation', errInfo: { failingDocumentId: 1, details: { operatorName: '$jsonSchema' } } });
    const error = mapMongoError('m', raw, 'query', timeouts) as QueryError;
    assert.equal(error.sqlState, 'DocumentValidationFailure');
    assert.match(error.detail!, /"operatorName":"\$jsonSchema"/);
  });

  it('a write error (code, no codeName) gets the server\'s name for its code, else the number', () => {
    const duplicate = new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key error collection: shop.uniq index: _id_ dup key: { _id: "x" }' });
    const error = mapMongoError('m', duplicate, 'query', timeouts) as QueryError;
    assert.equal(error.sqlState, 'DuplicateKey');
    assert.equal(error.constraint, '_id_');
    const odd = mapMongoError('m', new MongoServerError({ ok: 0, code: 12345, errmsg: 'odd' }), 'query', timeouts) as QueryError;
    assert.equal(odd.sqlState, '12345');
  });

  it('validation details of a write error travel in detail', () => {
    const raw = new MongoServerError({ code: 121, errmsg: 'Document failed validation', writeErrors: [{ code: 121, errInfo: { details: { operatorName: '$jsonSchema' } } }] });
    const error = mapMongoError('m', raw, 'query', timeouts) as QueryError;
    assert.equal(error.sqlState, 'DocumentValidationFailure');
    assert.match(error.detail!, /\$jsonSchema/);
  });

  it('AuthenticationFailed is a non-retriable connection error that points at authSource', () => {
    const error = mapMongoError('m', new MongoServerError({ ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' }), 'connect', timeouts);
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.retriable, false);
    assert.match(error.message, /options\.authSource/);
  });

  it('MaxTimeMSExpired is a statement timeout', () => {
    const error = mapMongoError('m', new MongoServerError({ ok: 0, code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' }), 'query', timeouts);
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.kind, 'statement');
    assert.equal(error.timeoutMs, 2000);
  });

  it('a stepdown is a connection error; during a commit its outcome is unknown', () => {
    const raw = () => new MongoServerError({ ok: 0, code: 10107, codeName: 'NotWritablePrimary', errmsg: 'not primary' });
    const query = mapMongoError('m', raw(), 'query', timeouts);
    assert.ok(query instanceof ConnectionError);
    assert.equal(query.outcomeUnknown, false);
    const commit = mapMongoError('m', raw(), 'commit', timeouts);
    assert.ok(commit instanceof ConnectionError);
    assert.equal(commit.outcomeUnknown, true);
  });

  it('network errors: retriable while connecting, "may have run" for a command, outcome unknown at commit', () => {
    const connect = mapMongoError('m', new MongoNetworkError('connect ECONNREFUSED'), 'connect', timeouts);
    assert.ok(connect instanceof ConnectionError && connect.retriable);
    const query = mapMongoError('m', new MongoNetworkError('connection reset'), 'query', timeouts);
    assert.ok(query instanceof ConnectionError && !query.retriable && !query.outcomeUnknown);
    assert.match(query.message, /may have run/);
    const commit = mapMongoError('m', new MongoNetworkError('connection reset'), 'commit', timeouts);
    assert.ok(commit instanceof ConnectionError && commit.outcomeUnknown);
  });

  it('a network timeout is a TimeoutError', () => {
    const connect = mapMongoError('m', new MongoNetworkTimeoutError('timed out'), 'connect', timeouts);
    assert.ok(connect instanceof TimeoutError && connect.kind === 'connect');
    const query = mapMongoError('m', new MongoNetworkTimeoutError('timed out'), 'query', timeouts);
    assert.ok(query instanceof TimeoutError && query.kind === 'operation');
  });

  it('driver-side refusals keep their cause', () => {
    const closed = mapMongoError('m', new MongoTopologyClosedError(), 'query', timeouts);
    assert.ok(closed instanceof LifecycleError);
    const tx = mapMongoError('m', new MongoTransactionError('Transaction already in progress'), 'query', timeouts);
    assert.ok(tx instanceof TransactionError);
    const parse = mapMongoError('m', new MongoParseError('Invalid scheme'), 'connect', timeouts);
    assert.ok(parse instanceof ConfigurationError);
    const argument = new MongoInvalidArgumentError('Update document requires atomic operators');
    const mapped = mapMongoError('m', argument, 'query', timeouts);
    assert.ok(mapped instanceof QueryError);
    assert.equal(mapped.cause, argument);
  });

  it('a datakeep error passes through; anything else becomes a QueryError with cause', () => {
    const usage = new UsageError('x', 'bad');
    assert.equal(mapMongoError('m', usage, 'query', timeouts), usage);
    const other = new TypeError('boom');
    const mapped = mapMongoError('m', other, 'query', timeouts);
    assert.ok(mapped instanceof QueryError);
    assert.equal(mapped.cause, other);
  });
});

/** A loopback port with nothing listening: a real refused connection, no server involved. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('MongodbAdapter without a server (real driver, refused loopback connection)', () => {
  async function adapterOnClosedPort(extra: Record<string, unknown> = {}) {
    const port = await closedPort();
    const config = resolveDatabaseConfig({ id: 'mongo-down', url: `mongodb://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/app`, timeout: 200, retryAttempts: 1, ...extra }, 'databases[0]');
    return new MongodbAdapter(config, { logger: silentLogger });
  }

  it('the engine registry creates it lazily, with one-phase capabilities', async () => {
    const config = resolveDatabaseConfig({ type: 'mongodb', host: '127.0.0.1', database: 'app' }, 'databases[0]');
    const adapter = await getEngine('mongodb').create(config, { logger: silentLogger });
    assert.ok(adapter instanceof MongodbAdapter);
    assert.equal(adapter.type, 'mongodb');
    assert.equal(adapter.capabilities.twoPhase, 'one-phase');
    assert.equal(adapter.capabilities.savepoints, false);
    assert.equal(adapter.capabilities.sql, false);
    assert.deepEqual(adapter.capabilities.isolationLevels, []);
    await adapter.close();
  });

  it('refuses commands before connect and reports unhealthy', async () => {
    const adapter = await adapterOnClosedPort();
    await assert.rejects(adapter.command('{"find": "users"}'), LifecycleError);
    await assert.rejects(adapter.query('{"find": "users"}'), LifecycleError);
    await assert.rejects(adapter.execute('{"delete": "users", "filter": {}}'), LifecycleError);
    await assert.rejects(adapter.transaction(async () => 1), LifecycleError);
    const health = await adapter.health();
    assert.equal(health.status, 'unhealthy');
    assert.equal(health.error?.code, 'DK_LIFECYCLE');
    await adapter.close();
  });

  it('asks for an isolation level or a read-only transaction: capability errors naming the alternative', async () => {
    const adapter = await adapterOnClosedPort();
    await assert.rejects(adapter.transaction(async () => 1, { isolationLevel: 'serializable' }), (error: unknown) => {
      assert.ok(error instanceof CapabilityError);
      assert.match(error.message, /readConcern/);
      return true;
    });
    await assert.rejects(adapter.transaction(async () => 1, { readOnly: true }), CapabilityError);
    const configured = new MongodbAdapter(resolveDatabaseConfig({ type: 'mongodb', host: '127.0.0.1', isolationLevel: 'repeatable read' }, 'd'), { logger: silentLogger });
    await assert.rejects(configured.transaction(async () => 1), CapabilityError);
    await adapter.close();
    await configured.close();
  });

  it('a refused connection is retried, mapped to a connect timeout, and never shows the password', async () => {
    const adapter = await adapterOnClosedPort();
    const error = await adapter.connect().then(
      () => assert.fail('connect should fail'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TimeoutError, String(error));
    assert.equal(error.kind, 'connect');
    assert.ok(error.cause instanceof MongoServerSelectionError);
    assert.match(error.message, /ECONNREFUSED/);
    for (const text of [error.message, JSON.stringify(error), inspect(error, { depth: 0 }), inspect(adapter, { depth: 5 }), JSON.stringify(adapter.metrics())]) {
      assert.ok(!text.includes(PASSWORD), text);
    }
    // One attempt plus retryAttempts (1) retries.
    assert.equal(adapter.metrics().connections.failedAttempts, 2);
    await adapter.close();
  });

  it('concurrent connects share one attempt; the circuit opens after the threshold and then fails fast', async () => {
    const adapter = await adapterOnClosedPort({ retryAttempts: 0, circuitBreaker: { failureThreshold: 2, resetTimeout: 60_000 } });
    const first = adapter.connect();
    assert.equal(adapter.connect(), first);
    await assert.rejects(first, TimeoutError);
    await assert.rejects(adapter.connect(), TimeoutError);
    assert.equal(adapter.metrics().circuit.state, 'open');
    assert.equal(adapter.metrics().circuit.opened, 1);
    await assert.rejects(adapter.connect(), CircuitOpenError);
    assert.equal(adapter.metrics().connections.failedAttempts, 2);
    await adapter.close();
  });

  it('closes idempotently and refuses connect after close', async () => {
    const adapter = await adapterOnClosedPort();
    const closing = adapter.close();
    assert.equal(adapter.close(), closing);
    await closing;
    await assert.rejects(adapter.connect(), LifecycleError);
    await assert.rejects(adapter.command('{"find": "users"}'), /the adapter is closed/);
  });
});
