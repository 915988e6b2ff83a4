import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mariadb, { type Connection } from 'mariadb';
import { DataManager } from '../../src/index.js';
import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import { holdSessions } from '../support/hold-sessions.js';
import { replaceFile } from '../support/replace-file.js';
import { CapturedLog, rotated } from '../support/captured-log.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';
import { waitFor } from '../support/throwaway-redis.js';

/**
 * Rotating a MariaDB password without a restart, on the local server: a throwaway user with a password (dropped
 * afterwards), a passwordFile, ALTER USER, the file replaced. A statement waits on GET_LOCK through the rotation.
 */
describe('MariaDB: a rotated passwordFile', { timeout: 120_000 }, () => {
  const OLD = 'Old-Pw-4Mv#1';
  const NEW = 'New-Pw-8Tn@2';
  const user = `dk_rot_${randomBytes(4).toString('hex')}`;
  let database: MariadbTestDatabase;
  let admin: Connection;
  let dir: string;
  let file: string;
  let dm: DataManager;
  let db: DatabaseAdapter;
  const log = new CapturedLog();

  const writePassword = (text: string) => replaceFile(file, text);
  const connectAs = async (password: string) => {
    const conn = await mariadb.createConnection({ host: database.config.host, port: database.config.port, user, password, connectTimeout: 5000 });
    await conn.end();
  };
  /** Connection ids of the user's sessions on the server. */
  const sessions = async () => ((await admin.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user])) as { id: bigint | number }[]).map((r) => Number(r.id));

  before(async () => {
    database = await createMariadbTestDatabase('dk_rot');
    admin = await database.admin();
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${OLD}'`);
    await admin.query(`GRANT ALL ON \`${database.name}\`.* TO '${user}'@'%'`);
    dir = mkdtempSync(join(tmpdir(), 'dk-mariadbpw-'));
    file = join(dir, 'mariadb-password');
    writeFileSync(file, `${OLD}\n`);
    dm = new DataManager({
      config: { databases: [{ id: 'app', type: 'mariadb', host: database.config.host, port: database.config.port, database: database.name, username: user, passwordFile: file, poolSize: 5 }], logLevel: 'debug' },
      logger: log,
    });
    await dm.initialize();
    db = dm.database('app');
  });
  after(async () => {
    await dm?.close();
    if (admin) {
      await admin.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
    await database?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving across ALTER USER and a new file: new sessions use the new password, sessions in use finish, the old ones close', async () => {
    await connectAs(OLD);
    await holdSessions(db, 3);
    const holder = await mariadb.createConnection({ host: database.config.host, port: database.config.port, user: 'root' });
    try {
      await holder.query("SELECT GET_LOCK('dk_rotation', 10)");
      const inFlight = db.query<{ got: number; id: number }>("SELECT GET_LOCK('dk_rotation', 60) AS got, CONNECTION_ID() AS id");
      let resume!: () => void;
      const gate = new Promise<void>((resolve) => (resume = resolve));
      const transaction = db.transaction(async (tx) => {
        const first = await tx.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
        await gate;
        const second = await tx.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
        return { first: Number(first[0]!.id), second: Number(second[0]!.id) };
      });
      await waitFor(async () => ((await admin.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = ? AND STATE LIKE '%lock%'", [user])) as unknown[]).length === 1, 10_000, 'the statement to wait for the lock');
      const before = await sessions();
      assert.ok(before.length >= 3, `three sessions before the rotation, got ${before.length}`);

      await admin.query(`ALTER USER '${user}'@'%' IDENTIFIED BY '${NEW}'`);
      writePassword(`${NEW}\n`);
      await log.waitFor(rotated('app'), 'the adapter replacing its pool');

      await assert.rejects(connectAs(OLD), /Access denied/);
      await connectAs(NEW);
      const fresh = await Promise.all([1, 2, 3].map(() => db.query<{ id: number }>('SELECT CONNECTION_ID() AS id')));
      for (const [row] of fresh) assert.ok(!before.includes(Number(row!.id)), `session ${row!.id} was opened after the rotation`);
      // The idle session of before is closed; the two in use are still there.
      await waitFor(async () => (await sessions()).filter((id) => before.includes(id)).length === 2, 10_000, 'the idle pre-rotation session to close');

      await holder.query("SELECT RELEASE_LOCK('dk_rotation')");
      const [statement] = await inFlight;
      assert.equal(Number(statement!.got), 1);
      assert.ok(before.includes(Number(statement!.id)), 'the statement ran on its pre-rotation session');
      resume();
      const ids = await transaction;
      assert.equal(ids.first, ids.second, 'the transaction kept its session');
      // With both sessions back, the retired pool ends.
      await waitFor(async () => (await sessions()).every((id) => !before.includes(id)), 10_000, 'the pre-rotation sessions to close');
      assert.deepEqual(await db.query('SELECT 42 AS n'), [{ n: 42 }]);
      const metrics = (await dm.getMetrics()).get('app')!;
      assert.ok(metrics.connections.total <= 5, `no more than poolSize connections once the old pool ended, got ${metrics.connections.total}`);
    } finally {
      await holder.end();
    }
  });

  it('no password appears in any log line', () => {
    assert.ok(log.lines.length > 0);
    for (const secret of [OLD, NEW]) assert.ok(!log.text().includes(secret));
  });
});
