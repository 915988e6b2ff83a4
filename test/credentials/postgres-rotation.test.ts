import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { AuthenticationError, DataManager } from '../../src/index.js';
import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import { holdSessions } from '../support/hold-sessions.js';
import { replaceFile } from '../support/replace-file.js';
import { CapturedLog, rotated, unusable } from '../support/captured-log.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { waitFor } from '../support/throwaway-redis.js';

/**
 * Rotating a PostgreSQL password without a restart: a cluster of its own where the role `rotator` must give its
 * password (scram-sha-256; the local server trusts everyone), a passwordFile, ALTER ROLE, then the file rewritten the
 * way Kubernetes and editors do it (a new file renamed over the old one).
 */
describe('PostgreSQL: a rotated passwordFile', { timeout: 120_000 }, () => {
  const OLD = 'Old-Pw-7Qx#1';
  const NEW = 'New-Pw-9Zr@2';
  const WRONG = 'Wrong-Pw-3Kd%4';
  let cluster: ThrowawayPostgres;
  let dir: string;
  let file: string;
  let dm: DataManager;
  let db: DatabaseAdapter;
  const log = new CapturedLog();

  const writePassword = (text: string) => replaceFile(file, text);
  const connectAs = async (password: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'rotator', password, database: 'postgres', connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const rotatorPids = async () => (await cluster.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE usename = 'rotator'")).map((r) => r.pid);
  /** Ends every session of rotator on the server, and waits until the pool has noticed (no idle session left). */
  const dropSessions = async () => {
    await cluster.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'rotator'");
    await waitFor(async () => (await dm.getMetrics()).get('app')!.connections.idle === 0 && (await rotatorPids()).length === 0, 10_000, 'the pool to drop its terminated sessions');
  };

  before(async () => {
    cluster = await ThrowawayPostgres.start({ name: 'rotate', hba: ['host all rotator 127.0.0.1/32 scram-sha-256'] });
    await cluster.query(`CREATE ROLE rotator LOGIN PASSWORD '${OLD}'`);
    dir = mkdtempSync(join(tmpdir(), 'dk-pgpw-'));
    file = join(dir, 'pg-password');
    writeFileSync(file, `${OLD}\n`);
    dm = new DataManager({
      config: { databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: cluster.port, database: 'postgres', username: 'rotator', passwordFile: file, poolSize: 5 }], logLevel: 'debug' },
      logger: log,
    });
    await dm.initialize();
    db = dm.database('app');
  });
  after(async () => {
    await dm?.close();
    await cluster?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving across ALTER ROLE and a new file: new sessions use the new password, sessions in use finish, the old ones close', async () => {
    await connectAs(OLD);
    // Three sessions, so that one stays idle while two are busy through the rotation.
    await holdSessions(db, 3);
    const admin = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      // A statement in flight through the rotation: it waits for an advisory lock the test holds.
      await admin.query('SELECT pg_advisory_lock(4242)');
      const inFlight = db.query<{ pid: number }>('SELECT pg_advisory_xact_lock(4242), pg_backend_pid() AS pid');
      // A transaction open through the rotation, continued afterwards on the same session.
      let resume!: () => void;
      const gate = new Promise<void>((resolve) => (resume = resolve));
      const transaction = db.transaction(async (tx) => {
        const first = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await gate;
        const second = await tx.query<{ pid: number; who: string }>('SELECT pg_backend_pid() AS pid, current_user AS who');
        return { first: first[0]!.pid, second: second[0]!.pid };
      });
      await waitFor(async () => (await cluster.query("SELECT 1 FROM pg_stat_activity WHERE usename = 'rotator' AND wait_event_type = 'Lock'")).length === 1, 10_000, 'the statement to wait for the lock');
      await waitFor(async () => (await cluster.query("SELECT 1 FROM pg_stat_activity WHERE usename = 'rotator' AND state = 'idle in transaction'")).length === 1, 10_000, 'the transaction to be open');
      const before = await rotatorPids();
      assert.ok(before.length >= 3, `three sessions before the rotation, got ${before.length}`);

      await cluster.query(`ALTER ROLE rotator PASSWORD '${NEW}'`);
      writePassword(`${NEW}\n`);
      await log.waitFor(rotated('app'), 'the adapter replacing its pool');

      // The server refuses the old password now; the adapter's new sessions still get in.
      await assert.rejects(connectAs(OLD), /password authentication failed/);
      await connectAs(NEW);
      const fresh = await Promise.all([1, 2, 3].map(() => db.query<{ pid: number; who: string }>('SELECT pg_backend_pid() AS pid, current_user AS who')));
      for (const [row] of fresh) {
        assert.equal(row!.who, 'rotator');
        assert.ok(!before.includes(row!.pid), `session ${row!.pid} was opened after the rotation`);
      }
      // The idle session of before is closed; the two in use are still there.
      await waitFor(async () => (await rotatorPids()).filter((pid) => before.includes(pid)).length === 2, 10_000, 'the idle pre-rotation session to close');

      await admin.query('SELECT pg_advisory_unlock(4242)');
      const [statement] = await inFlight;
      assert.ok(before.includes(statement!.pid), 'the statement ran on its pre-rotation session');
      resume();
      const pids = await transaction;
      assert.equal(pids.first, pids.second, 'the transaction kept its session');
      // Released, the pre-rotation sessions close: every session now was made with the new password.
      await waitFor(async () => (await rotatorPids()).every((pid) => !before.includes(pid)), 10_000, 'the pre-rotation sessions to close once released');
      assert.deepEqual(await db.query('SELECT 42 AS n'), [{ n: 42 }]);
    } finally {
      await admin.end();
    }
  });

  it('a file that becomes empty or disappears keeps the current password, with one warning each', async () => {
    const rotations = log.count(rotated('app'));
    writePassword('');
    await log.waitFor((l) => unusable('app')(l) && l.fields?.reason === 'empty', 'the empty file to be reported');
    // New sessions (the old ones were terminated) still log in with the password in use.
    await dropSessions();
    assert.deepEqual(await db.query('SELECT current_user AS who'), [{ who: 'rotator' }]);
    unlinkSync(file);
    await log.waitFor((l) => unusable('app')(l) && l.fields?.reason === 'ENOENT', 'the missing file to be reported');
    await dropSessions();
    assert.deepEqual(await db.query('SELECT current_user AS who'), [{ who: 'rotator' }]);
    // The same password back: nothing to rotate (the next test counts on it).
    writePassword(`${NEW}\n`);
    assert.equal(log.count(rotated('app')), rotations);
    assert.equal(log.count((l) => unusable('app')(l) && l.fields?.reason === 'ENOENT'), 1, 'one warning while the file is missing, not one per check');
  });

  it('a wrong password in the file fails new sessions with an AuthenticationError that does not contain it; the right one recovers without a restart', async () => {
    const rotations = log.count(rotated('app'));
    writePassword(WRONG);
    await log.waitFor(rotated('app'), 'the wrong password to be taken', rotations + 1);
    await dropSessions();
    const error = await db.query('SELECT 1').then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof AuthenticationError, `an AuthenticationError, got ${String(error)}`);
    assert.ok(!error.message.includes(WRONG) && !JSON.stringify(error).includes(WRONG), 'the error does not carry the password');
    writePassword(NEW);
    await log.waitFor(rotated('app'), 'the right password to be taken', rotations + 2);
    await waitFor(async () => (await db.query('SELECT 1 AS n'))[0]?.n === 1, 15_000, 'queries to work again (the circuit may be open after the failure)');
  });

  it('no password, old or new or wrong, appears in any log line', () => {
    assert.ok(log.lines.length > 0);
    for (const secret of [OLD, NEW, WRONG]) assert.ok(!log.text().includes(secret), `a log line contains ${secret.slice(0, 3)}...`);
  });
});
