import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { routePostgresAdapter } from '../../src/engines/postgres/replication/postgres-route.js';
import { DataManager, FailoverError, QueryError, ReplicationError } from '../../src/index.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../support/free-port.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

/**
 * Routing a PostgreSQL adapter between two independent throwaway clusters A and B (same table, no replication between
 * them, so where a row landed shows which server took the write), and the FailoverErrors of a routed adapter when its
 * server is SIGKILLed or turned read-only.
 */
describe('routing a PostgreSQL adapter (two throwaway clusters)', () => {
  let a: ThrowawayPostgres;
  let b: ThrowawayPostgres;
  const managers: DataManager[] = [];
  let counter = 0;

  async function managerOn(cluster: ThrowawayPostgres, overrides: Partial<DatabaseConfig> = {}): Promise<{ dm: DataManager; id: string; app: string }> {
    counter += 1;
    const id = `route${counter}`;
    const app = `dk-route-${counter}`;
    const dm = new DataManager({ logger: silentLogger });
    managers.push(dm);
    await dm.initialize([{ ...cluster.config, id, applicationName: app, timeout: 3_000, ...overrides }]);
    return { dm, id, app };
  }

  function nodeOf(cluster: ThrowawayPostgres, name: string, port = cluster.port): ReplicationNode {
    return {
      name, host: cluster.host, port, region: undefined, dataDir: undefined, sync: false, priority: 0,
      config: resolveDatabaseConfig({ ...cluster.config, port, id: name }, name),
    };
  }

  async function ids(cluster: ThrowawayPostgres): Promise<Set<number>> {
    return new Set((await cluster.query<{ id: number }>('SELECT id FROM acked')).map((r) => r.id));
  }

  before(async () => {
    [a, b] = await Promise.all([ThrowawayPostgres.start({ name: 'route-a' }), ThrowawayPostgres.start({ name: 'route-b' })]);
    await Promise.all([a, b].map((c) => c.query('CREATE TABLE acked (id integer PRIMARY KEY)')));
  });

  afterEach(async () => {
    // A crash test leaves A stopped; the next test needs it (crash recovery runs on start).
    if (!a.isRunning()) await a.start();
    await a.query('ALTER SYSTEM RESET default_transaction_read_only');
    await a.query('ALTER SYSTEM RESET synchronous_standby_names');
    await a.reload();
  });

  after(async () => {
    await Promise.all(managers.map((dm) => dm.close().catch(() => undefined)));
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  it('moves a running writer from A to B without a restart: later writes land on B, no acknowledged write is lost, metrics carry on', { timeout: 40_000 }, async () => {
    // 8 writers on a pool of 4: callers are queued for a session when the route happens, and must be served by B.
    const { dm, id, app } = await managerOn(a, { poolSize: 4 });
    const adapter = dm.database(id);
    await routePostgresAdapter(adapter, nodeOf(a, 'A'), { timeoutMs: 3_000 });
    assert.equal(adapter.metrics().endpoint, 'A');

    let next = 0;
    let routed = false;
    let stop = false;
    const acked: { id: number; afterRoute: boolean }[] = [];
    const errors: unknown[] = [];
    const writer = async () => {
      while (!stop) {
        next += 1;
        const row = { id: next, afterRoute: routed };
        try {
          await dm.database(id).execute('INSERT INTO acked (id) VALUES (?)', [row.id]);
          acked.push(row);
        } catch (error) {
          errors.push(error);
        }
      }
    };
    const until = async (condition: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    try {
      await until(() => acked.length >= 300, '300 writes on A');
      const queriesBefore = adapter.metrics().queries.total;
      await routePostgresAdapter(adapter, nodeOf(b, 'B'), { timeoutMs: 3_000 });
      routed = true;
      assert.ok(adapter.metrics().queries.total >= queriesBefore, 'the query counters went on (not reset by the route)');
      const ackedAtRoute = acked.length;
      await until(() => acked.length >= ackedAtRoute + 300, '300 more writes after the route');
    } finally {
      stop = true;
      await Promise.all(writers);
    }

    const [onA, onB] = await Promise.all([ids(a), ids(b)]);
    const lost = acked.filter((r) => !onA.has(r.id) && !onB.has(r.id));
    assert.deepEqual(lost, [], 'every acknowledged write is on A or B');
    const late = acked.filter((r) => r.afterRoute);
    assert.ok(late.length >= 300);
    assert.deepEqual(late.filter((r) => !onB.has(r.id) || onA.has(r.id)).map((r) => r.id), [], 'writes issued after the route resolved are on B only');
    assert.ok(onA.size >= 300 && onB.size >= 300, `A has ${onA.size} rows, B ${onB.size}`);
    for (const error of errors) assert.ok(error instanceof FailoverError, `an error in the switch window is a FailoverError: ${String(error)}`);

    const metrics = adapter.metrics();
    assert.equal(metrics.endpoint, 'B');
    assert.ok(metrics.queries.total >= acked.length, `queries counted across the route: ${metrics.queries.total} >= ${acked.length}`);
    const health = await adapter.health();
    assert.equal(health.status, 'healthy', health.reasons.join('; '));
    assert.equal(health.details?.endpoint, 'B');
    // The old pool was ended: its idle sessions are closed, and nothing of this adapter stays connected to A.
    await pollUntil(async () => (await a.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app]))[0]!.n === 0, 'sessions on A to close', 5_000);
    assert.ok((await b.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app]))[0]!.n > 0, 'the adapter is connected to B');
  });

  it('connection lost inside a transaction before COMMIT (backend terminated, or the primary SIGKILLed): FailoverError, mayHaveCommitted false, nothing written', { timeout: 30_000 }, async () => {
    const { dm, id } = await managerOn(a, { retryAttempts: 0 });
    await routePostgresAdapter(dm.database(id), nodeOf(a, 'A'), { timeoutMs: 3_000 });

    type Tx = { execute: (sql: string, params?: unknown[]) => Promise<number>; query: (sql: string) => Promise<unknown> };
    const runningSleep = async (tx: Tx) => {
      const pending = tx.query('SELECT pg_sleep(10)');
      pending.catch(() => undefined);
      await pollUntil(
        async () => (await a.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'"))[0]!.n === 1,
        'the statement to run',
        5_000,
      );
      // Wrapped: an async function returning the promise itself would wait for it.
      return { pending };
    };
    const scenarios: { what: string; id: number; then: (tx: Tx) => Promise<unknown> }[] = [
      {
        what: 'backend terminated (57P01) while a statement of the transaction runs',
        id: 100_001,
        then: async (tx) => {
          const { pending } = await runningSleep(tx);
          await a.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', ['SELECT pg_sleep(10)']);
          return pending;
        },
      },
      {
        what: 'server SIGKILLed while a statement of the transaction runs',
        id: 100_002,
        then: async (tx) => {
          const { pending } = await runningSleep(tx);
          await a.kill();
          return pending;
        },
      },
      { what: 'a statement after the crash, still inside the transaction', id: 100_003, then: async (tx) => a.kill().then(() => tx.execute('SELECT 1')) },
      // COMMIT cannot be sent on the broken connection, once the client has read its end: a.kill() returns when the
      // server process is gone, and a turn of the event loop reads the closed socket. (Without that turn, on a loaded
      // machine, COMMIT can be written before the close is read, and "may have committed" is then the honest answer.)
      { what: 'the callback returns after the crash', id: 100_004, then: () => a.kill().then(() => new Promise((resolve) => setTimeout(resolve, 200))) },
    ];
    for (const scenario of scenarios) {
      await assert.rejects(
        dm.transaction(async (tx) => {
          await tx.execute('INSERT INTO acked (id) VALUES (?)', [scenario.id]);
          await scenario.then(tx);
        }),
        (error: unknown) => isFailover(error, false, 'A'),
        scenario.what,
      );
      if (!a.isRunning()) await a.start();
    }
    const onA = await ids(a);
    assert.deepEqual(scenarios.map((x) => x.id).filter((n) => onA.has(n)), []);
  });

  it('SIGKILL of the routed primary while an autocommit INSERT is in flight: FailoverError, mayHaveCommitted true', { timeout: 30_000 }, async () => {
    const { dm, id } = await managerOn(a, { retryAttempts: 0 });
    await routePostgresAdapter(dm.database(id), nodeOf(a, 'A'), { timeoutMs: 3_000 });
    // A lock held by another session keeps the INSERT waiting on the server, so it is certainly sent and unanswered.
    const holder = await a.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE acked IN ACCESS EXCLUSIVE MODE');
    const insert = dm.database(id).execute('INSERT INTO acked (id) VALUES (?)', [200_001]);
    insert.catch(() => undefined);
    await pollUntil(
      async () => (await a.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO acked%'"))[0]!.n === 1,
      'the INSERT to wait for the lock',
      5_000,
    );
    await a.kill();
    await assert.rejects(insert, (error: unknown) => isFailover(error, true, 'A'));
    await holder.end().catch(() => undefined);
  });

  it('terminated while waiting for synchronous replication (committed locally): FailoverError, mayHaveCommitted true, and the row is there', { timeout: 30_000 }, async () => {
    const { dm, id } = await managerOn(a, { retryAttempts: 0 });
    await routePostgresAdapter(dm.database(id), nodeOf(a, 'A'), { timeoutMs: 3_000 });
    // A synchronous standby that never connects: every commit waits for it after writing its commit record locally.
    await a.query("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
    await a.reload();
    await pollUntil(async () => (await a.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s"))[0]!.s === 'nobody', 'the setting to apply', 5_000);
    const terminateSyncWaiters = async () => {
      await pollUntil(
        async () => (await a.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'"))[0]!.n === 1,
        'the commit to wait for the standby',
        5_000,
      );
      await a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
    };

    const insert = dm.database(id).execute('INSERT INTO acked (id) VALUES (?)', [500_001]);
    insert.catch(() => undefined);
    await terminateSyncWaiters();
    await assert.rejects(insert, (error: unknown) => isFailover(error, true, 'A'));

    const transaction = dm.transaction(async (tx) => tx.execute('INSERT INTO acked (id) VALUES (?)', [500_002]));
    transaction.catch(() => undefined);
    await terminateSyncWaiters();
    await assert.rejects(transaction, (error: unknown) => isFailover(error, true, 'A'));

    const onA = await ids(a);
    assert.ok(onA.has(500_001) && onA.has(500_002), 'both commits are durable on A although their callers got an error');
  });

  it('a routed primary set read-only refuses writes with FailoverError mayHaveCommitted false; an unrouted adapter keeps the QueryError', { timeout: 30_000 }, async () => {
    const routed = await managerOn(a);
    await routePostgresAdapter(routed.dm.database(routed.id), nodeOf(a, 'A'), { timeoutMs: 3_000 });
    const plain = await managerOn(a);
    await a.query('ALTER SYSTEM SET default_transaction_read_only = on');
    await a.reload();
    // Pooled sessions read the reloaded setting before their next statement; the reload signal is asynchronous.
    let n = 300_000;
    let refusal: unknown;
    await pollUntil(async () => {
      n += 1;
      refusal = await routed.dm.database(routed.id).execute('INSERT INTO acked (id) VALUES (?)', [n]).then(() => undefined, (error: unknown) => error);
      return refusal !== undefined;
    }, 'the routed adapter to be refused', 5_000);
    assert.ok(isFailover(refusal, false, 'A'));
    await assert.rejects(
      routed.dm.database(routed.id).transaction(async (tx) => tx.execute('INSERT INTO acked (id) VALUES (?)', [301_000])),
      (error: unknown) => isFailover(error, false, 'A'),
    );
    await assert.rejects(plain.dm.database(plain.id).execute('INSERT INTO acked (id) VALUES (?)', [301_001]), (error: unknown) => {
      assert.ok(error instanceof QueryError && !(error instanceof FailoverError), `unrouted: ${String(error)}`);
      assert.equal(error.sqlState, '25006');
      return true;
    });
    assert.equal((await ids(a)).has(301_000), false);
  });

  it('a node nobody answers on: ReplicationError within the timeout, and the adapter keeps working on its old server', { timeout: 30_000 }, async () => {
    const { dm, id } = await managerOn(a);
    const adapter = dm.database(id);
    const closedPort = await freePort('127.0.0.1');
    let started = Date.now();
    await assert.rejects(routePostgresAdapter(adapter, nodeOf(a, 'nobody', closedPort), { timeoutMs: 2_000 }), (error: unknown) => {
      assert.ok(error instanceof ReplicationError, String(error));
      assert.equal(error.reason, 'unreachable');
      assert.equal(error.node, 'nobody');
      return true;
    });
    assert.ok(Date.now() - started < 2_500, `refused connection took ${Date.now() - started} ms`);

    // Accepts TCP connections and never answers: only the route's own limit ends the wait.
    const silent = await silentListener();
    try {
      started = Date.now();
      await assert.rejects(routePostgresAdapter(adapter, nodeOf(a, 'silent', silent.port), { timeoutMs: 1_000 }), (error: unknown) => {
        assert.ok(error instanceof ReplicationError, String(error));
        assert.equal(error.reason, 'timeout');
        return true;
      });
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 3_000, `timeout after ${took} ms`);
    } finally {
      await silent.close();
    }

    assert.equal(adapter.metrics().endpoint, `${a.host}:${a.port}`);
    assert.equal(await adapter.execute('INSERT INTO acked (id) VALUES (?)', [400_001]), 1);
    assert.ok((await ids(a)).has(400_001));
  });
});

function isFailover(error: unknown, mayHaveCommitted: boolean, primary: string): boolean {
  assert.ok(error instanceof FailoverError, `expected FailoverError, got ${String(error)}`);
  assert.equal(error.mayHaveCommitted, mayHaveCommitted, error.message);
  assert.equal(error.outcomeUnknown, mayHaveCommitted);
  assert.equal(error.primary, primary);
  return true;
}

async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function silentListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
