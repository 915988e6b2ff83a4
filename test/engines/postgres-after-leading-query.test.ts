import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { queryAfterLeading } from '../../src/engines/postgres/after-leading-query.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

/**
 * BEGIN pipelined with a distributed branch's first statement: one round trip, and never the statement without the
 * transaction. Against the machine's PostgreSQL.
 */
describe('PostgreSQL: a statement sent behind BEGIN in one round trip', () => {
  let db: TestDatabase;
  let client: pg.Client;

  before(async () => {
    db = await createTestDatabase('dk_pipe');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
  });
  after(async () => {
    await client?.end().catch(() => undefined);
    await db?.drop();
  });

  it('runs the statement inside the transaction the leading statements opened, with their settings, and returns only its result', async () => {
    const result = await queryAfterLeading(client, ['BEGIN ISOLATION LEVEL REPEATABLE READ', 'SET LOCAL statement_timeout = 12345'], 'INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id, current_setting($3) AS timeout, current_setting($4) AS level', [1, 'one', 'statement_timeout', 'transaction_isolation']);
    assert.equal(result.command, 'INSERT');
    assert.equal(result.rowCount, 1);
    assert.deepEqual(result.rows, [{ id: 1, timeout: '12345ms', level: 'repeatable read' }]);
    const [state] = (await client.query<{ open: boolean }>("SELECT now() = statement_timestamp() AS open")).rows;
    assert.equal(state!.open, false, 'the transaction is still open on the session (now() is its start, not this statement)');
    await client.query('ROLLBACK');
    assert.equal((await client.query('SELECT 1 FROM t WHERE id = 1')).rowCount, 0, 'rolled back with the transaction');
  });

  it('a failing leading statement skips the statement behind it: it never runs in autocommit', async () => {
    const error = await queryAfterLeading(client, ['BEGIN', 'SELECT 1 / 0'], 'INSERT INTO t (id, v) VALUES ($1, $2)', [2, 'two']).catch((e: unknown) => e);
    assert.ok(error instanceof Error);
    assert.match(error.message, /division by zero/);
    await client.query('ROLLBACK');
    assert.equal((await client.query('SELECT 1 FROM t WHERE id = 2')).rowCount, 0);
    // The session is usable afterwards, and the error of the statement itself is reported as its own.
    const duplicate = await queryAfterLeading(client, ['BEGIN'], 'INSERT INTO t (id, v) VALUES ($1, $2), ($1, $2)', [3, 'three']).catch((e: unknown) => e);
    assert.match(String(duplicate), /duplicate key/);
    await client.query('ROLLBACK');
    assert.equal((await client.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 0);
  });
});
