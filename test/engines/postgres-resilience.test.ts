import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { PostgresAdapter } from '../../src/engines/postgres/postgres-adapter.js';
import { CircuitOpenError, ConnectionError, TimeoutError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

/**
 * Faults injected on a real PostgreSQL 15 cluster of this file's own: stopped, SIGKILLed, SIGSTOPped, or one backend
 * terminated. No test here measures time; waits poll for a condition with a bound.
 */
describe('postgresql adapter under faults (throwaway cluster)', () => {
  let cluster: ThrowawayPostgres;
  const adapters: PostgresAdapter[] = [];
  let counter = 0;

  function newAdapter(overrides: Partial<DatabaseConfig> = {}): PostgresAdapter {
    counter += 1;
    const config = resolveDatabaseConfig(
      { ...cluster.config, id: `resilience-${counter}`, applicationName: `dk-resilience-${counter}`, timeout: 3_000, retryAttempts: 0, ...overrides },
      'test',
    );
    const adapter = new PostgresAdapter(config, { logger: silentLogger });
    adapters.push(adapter);
    return adapter;
  }

  before(async () => {
    cluster = await ThrowawayPostgres.start({ name: 'resilience' });
  });

  afterEach(async () => {
    // A failed test must not leave the next one a frozen or stopped server.
    if (cluster.paused) cluster.resume();
    if (!cluster.isRunning()) await cluster.start();
  });

  after(async () => {
    await Promise.all(adapters.map((a) => a.close().catch(() => undefined)));
    await cluster?.destroy();
  });

  it('opens the circuit after failureThreshold failed connections, refuses calls without touching the network, and closes it again once the server is back', async () => {
    const adapter = newAdapter({ circuitBreaker: { failureThreshold: 3, resetTimeout: 1_000 } });
    await adapter.connect();
    assert.deepEqual(await adapter.query('SELECT 1 AS one'), [{ one: 1 }]);

    await cluster.stop();
    // Fast shutdown closes the idle pooled connection; wait until the pool has noticed, so that each call below
    // really opens a new connection.
    await waitFor(() => adapter.metrics().connections.total === 0, 'the pool to drop its closed idle connection');

    for (let failure = 1; failure <= 3; failure += 1) {
      await assert.rejects(adapter.query('SELECT 1'), (error: unknown) => {
        assert.ok(error instanceof ConnectionError, `call ${failure}: expected ConnectionError, got ${String(error)}`);
        assert.equal(error.retriable, true, 'nothing was sent, so the failure is retriable');
        return true;
      });
      assert.equal(adapter.metrics().circuit.state, failure < 3 ? 'closed' : 'open', `circuit after failure ${failure}`);
    }
    const attemptsWhenOpened = adapter.metrics().connections.failedAttempts;
    assert.equal(attemptsWhenOpened, 3);

    // Something now accepts connections on the port and counts them: an open circuit must not make any.
    const listener = await countingListener(cluster.port);
    try {
      await assert.rejects(adapter.query('SELECT 1'), CircuitOpenError);
      await assert.rejects(adapter.transaction(async () => 'never runs'), CircuitOpenError);
      const health = await adapter.health();
      assert.equal(health.status, 'unhealthy');
      assert.equal(health.error?.code, 'DK_CIRCUIT_OPEN');
      assert.equal(listener.connections(), 0, 'an open circuit opened a TCP connection');
      assert.equal(adapter.metrics().connections.failedAttempts, attemptsWhenOpened);
      assert.equal(adapter.metrics().circuit.state, 'open');
    } finally {
      await listener.close();
    }

    // After resetTimeout one probe goes through; the server is still down, so the circuit opens again at once.
    await waitFor(() => adapter.metrics().circuit.state === 'half-open', 'the circuit to become half-open');
    await assert.rejects(adapter.query('SELECT 1'), ConnectionError);
    assert.equal(adapter.metrics().circuit.state, 'open');
    await assert.rejects(adapter.query('SELECT 1'), CircuitOpenError);

    await cluster.start();
    await waitFor(() => adapter.metrics().circuit.state === 'half-open', 'the circuit to become half-open again');
    assert.deepEqual(await adapter.query('SELECT 2 AS two'), [{ two: 2 }], 'the half-open probe succeeds on the same adapter');
    assert.equal(adapter.metrics().circuit.state, 'closed');
    assert.equal(adapter.metrics().circuit.opened, 1);
    const health = await adapter.health();
    assert.equal(health.status, 'healthy', `health reasons: ${health.reasons.join('; ')}`);
  });

  it('retries a connection attempt that never reached the server (retryAttempts + 1 attempts in all)', async () => {
    const adapter = newAdapter({ retryAttempts: 2, circuitBreaker: { failureThreshold: 100, resetTimeout: 1_000 } });
    await adapter.connect();
    await cluster.stop();
    await waitFor(() => adapter.metrics().connections.total === 0, 'the pool to drop its closed idle connection');
    await assert.rejects(adapter.query('SELECT 1'), (error: unknown) => error instanceof ConnectionError && error.retriable);
    assert.equal(adapter.metrics().connections.failedAttempts, 3);
    await cluster.start();
    assert.deepEqual(await adapter.query('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('a transaction whose backend is terminated fails with ConnectionError, commits nothing, and the pool recovers', async () => {
    const adapter = newAdapter();
    await adapter.connect();
    await adapter.execute('CREATE TABLE cut_tx (id int)');
    let backendPid = 0;
    await assert.rejects(
      adapter.transaction(async (tx) => {
        await tx.execute('INSERT INTO cut_tx VALUES (1)');
        backendPid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
        // The second argument makes pg_terminate_backend wait until the backend has exited.
        const [terminated] = await cluster.query<{ ok: boolean }>('SELECT pg_terminate_backend($1, 5000) AS ok', [backendPid]);
        assert.equal(terminated?.ok, true);
        await tx.execute('INSERT INTO cut_tx VALUES (2)');
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
        assert.equal(error.retriable, false, 'a statement was sent on the lost connection');
        assert.equal(error.outcomeUnknown, false, 'the connection was lost before COMMIT');
        return true;
      },
    );
    assert.deepEqual(await cluster.query('SELECT count(*)::int AS n FROM cut_tx'), [{ n: 0 }]);
    assert.equal(adapter.metrics().transactions.rolledBack, 1);

    // The same adapter keeps working: the broken client was discarded, not returned to the pool.
    assert.deepEqual(await adapter.query('SELECT count(*)::int AS n FROM cut_tx'), [{ n: 0 }]);
    const [{ pid: newPid } = { pid: 0 }] = await adapter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    assert.notEqual(newPid, backendPid);
    assert.equal((await adapter.health()).status, 'healthy');
  });

  it('idle pooled connections terminated by the server are dropped without crashing the process', async () => {
    const adapter = newAdapter({ poolSize: 3, applicationName: 'dk-resilience-idle' });
    await adapter.connect();
    await Promise.all([1, 2, 3].map(() => adapter.query('SELECT pg_sleep(0.05)')));
    assert.ok(adapter.metrics().connections.idle >= 1);
    const killed = await cluster.query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid, 5000) AS ok FROM pg_stat_activity WHERE application_name = $1',
      ['dk-resilience-idle'],
    );
    assert.ok(killed.length >= 1 && killed.every((r) => r.ok));
    await waitFor(() => adapter.metrics().connections.total === 0, 'the pool to drop the terminated connections');
    assert.deepEqual(await adapter.query('SELECT 1 AS one'), [{ one: 1 }]);
  });

  it('the cluster SIGKILLed in the middle of a transaction: ConnectionError, nothing committed, the same adapter works after restart', async () => {
    const adapter = newAdapter({ retryAttempts: 2 });
    await adapter.connect();
    await adapter.execute('CREATE TABLE crash_tx (id int)');
    await assert.rejects(
      adapter.transaction(async (tx) => {
        await tx.execute('INSERT INTO crash_tx VALUES (1)');
        await cluster.kill();
        await tx.execute('INSERT INTO crash_tx VALUES (2)');
      }),
      (error: unknown) => error instanceof ConnectionError && !error.retriable,
    );
    await cluster.start();
    // Crash recovery rolled the open transaction back.
    assert.deepEqual(await adapter.query('SELECT count(*)::int AS n FROM crash_tx'), [{ n: 0 }]);
    assert.equal((await adapter.health()).status, 'healthy');
  });

  it('does not retry a statement whose connection was cut after it was sent: it ran once, not twice', async () => {
    // retryAttempts is generous on purpose: connection retries are allowed, statement retries are not.
    const adapter = newAdapter({ retryAttempts: 3, applicationName: 'dk-resilience-once' });
    await adapter.connect();
    // The procedure commits its row before it sleeps, so every run of the statement leaves one row behind.
    await adapter.execute('CREATE TABLE ran_once (id serial PRIMARY KEY)');
    await adapter.execute('CREATE PROCEDURE log_then_sleep() LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ran_once DEFAULT VALUES; COMMIT; PERFORM pg_sleep(60); END $$');
    const failedAttemptsBefore = adapter.metrics().connections.failedAttempts;

    const outcome = adapter.execute('CALL log_then_sleep()').then(
      () => 'resolved' as const,
      (error: unknown) => error,
    );
    const sleeping = await waitFor(async () => {
      const rows = await cluster.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'dk-resilience-once' AND wait_event = 'PgSleep'",
      );
      return rows[0]?.pid;
    }, 'the CALL to reach pg_sleep');
    await cluster.query('SELECT pg_terminate_backend($1, 5000)', [sleeping]);

    const error = await outcome;
    assert.ok(error instanceof ConnectionError, `expected ConnectionError, got ${String(error)}`);
    assert.equal(error.retriable, false);
    assert.match(error.message, /may have run/);
    assert.deepEqual(await cluster.query('SELECT count(*)::int AS n FROM ran_once'), [{ n: 1 }], 'the statement ran more than once');
    const stillRunning = await cluster.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'dk-resilience-once' AND query LIKE 'CALL%' AND state = 'active'");
    assert.deepEqual(stillRunning, [], 'a second run of the statement is in progress');
    assert.equal(adapter.metrics().connections.failedAttempts, failedAttemptsBefore);
  });

  it('a frozen server (SIGSTOP) makes a new connection fail with TimeoutError kind connect; it connects after SIGCONT', async () => {
    const adapter = newAdapter({ timeout: 1_000 });
    cluster.pause();
    try {
      await assert.rejects(adapter.connect(), (error: unknown) => {
        assert.ok(error instanceof TimeoutError, `expected TimeoutError, got ${String(error)}`);
        assert.equal(error.kind, 'connect');
        assert.equal(error.timeoutMs, 1_000);
        return true;
      });
    } finally {
      cluster.resume();
    }
    await adapter.connect();
    assert.deepEqual(await adapter.query('SELECT 1 AS one'), [{ one: 1 }]);
  });
});

/** Polls `probe` until it returns something other than false/undefined; throws after `timeoutMs`. */
async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== false && value !== undefined) return value as Exclude<T, false | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A TCP listener on 127.0.0.1:port that counts and drops every connection. */
async function countingListener(port: number): Promise<{ connections(): number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, resolve);
  });
  return {
    connections: () => count,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
