import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import { stopRestoredServer } from '../../src/engines/mariadb/backup/index.js';
import { openRepository } from '../../src/repository/index.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayMariadb } from '../support/throwaway-mariadb.js';

/** CHECKSUM TABLE of every table of `app`, on the server at `port`. */
async function checksums(server: ThrowawayMariadb, port = server.port): Promise<Record<string, string>> {
  const c = await server.connect(port);
  try {
    const tables = await c.query<{ t: string }[]>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'app' ORDER BY 1");
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      const [row] = await c.query<{ Checksum: number }[]>(`CHECKSUM TABLE app.\`${t}\` EXTENDED`);
      out[t] = String(row!.Checksum);
    }
    return out;
  } finally {
    await c.end();
  }
}

/** The seed's backup configuration (compression and encryption are the repository's, always on). */
const SEED = { compression: true, encryption: true, retention: { daily: 7, weekly: 4, monthly: 12, yearly: 5 } } as const;

describe('MariaDB physical backups (mariadb-backup + binlog archive) on a throwaway server', () => {
  let server: ThrowawayMariadb;
  let stateDb: TestDatabase;
  let work: string;
  let destination: string;
  let dm: DataManager;
  const previousEnv = process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
  const restores: string[] = [];

  /** A directory under `work` (enterable by the mysql OS user) for one restore. */
  const restoreDir = (name: string) => {
    const to = join(work, 'restores', name);
    restores.push(to);
    return to;
  };

  before(async () => {
    [server, stateDb] = await Promise.all([ThrowawayMariadb.start('mariabk'), createTestDatabase('dk_mariabk_state')]);
    work = mkdtempSync(join(tmpdir(), 'dk-mariabk-work-'));
    chmodSync(work, 0o755);
    destination = join(work, 'backups');
    const passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, `mariadb backup test ${process.pid}\n`, { mode: 0o600 });
    process.env.DATAKEEP_REPO_PASSPHRASE_FILE = passphraseFile;
    await server.sql(`CREATE DATABASE app; CREATE TABLE app.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200), at DATETIME(6) DEFAULT NOW(6)) ENGINE=InnoDB;
      INSERT INTO app.orders (note) SELECT CONCAT('before ', seq) FROM app.seq_1_to_20000;`);
    dm = new DataManager({ config: { databases: [{ ...server.config('app'), id: 'app' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close();
    for (const to of restores) await stopRestoredServer(to).catch(() => undefined);
    if (previousEnv === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
    else process.env.DATAKEEP_REPO_PASSPHRASE_FILE = previousEnv;
    await server?.destroy();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a full backup restores (prepared, started) to tables whose checksums equal the source', async () => {
    const result = await dm.createBackup({ ...SEED, type: 'full', destination });
    assert.equal(result.databases.length, 1);
    assert.equal(result.type, 'full');
    assert.ok(result.sizeBytes > 1_000_000, `size ${result.sizeBytes}`);
    const source = await checksums(server);
    const list = await dm.backups.listBackups({ destination });
    assert.equal(list.at(-1)!.metadata.engine, 'mariadb');
    assert.match(String(list.at(-1)!.metadata.binlogFile), /^binlog\.\d+$/);
    assert.ok(Number(list.at(-1)!.metadata.binlogPosition) > 4);

    const to = restoreDir('full');
    const port = await freePort();
    const restored = await dm.restoreBackup(result.backupId, { destination, to, start: { port } });
    assert.equal(restored.started, true);
    assert.deepEqual(await checksums(server, port), source);
    await stopRestoredServer(to);
  });

  it('an incremental chain (incremental on incremental) restores to the source at the newest backup', async () => {
    await server.sql("INSERT INTO app.orders (note) SELECT CONCAT('inc1 ', seq) FROM app.seq_1_to_3000");
    const first = await dm.createBackup({ ...SEED, type: 'incremental', destination });
    await server.sql("UPDATE app.orders SET note = CONCAT(note, ' changed') WHERE id % 7 = 0; CREATE TABLE app.extra (k INT PRIMARY KEY, v TEXT); INSERT INTO app.extra SELECT seq, REPEAT('x', seq % 50) FROM app.seq_1_to_500");
    const second = await dm.createBackup({ ...SEED, type: 'incremental', destination });
    const source = await checksums(server);
    const list = await dm.backups.listBackups({ destination });
    const inc2 = list.find((b) => b.backupId === second.backupId)!;
    assert.equal(inc2.type, 'incremental');
    assert.equal(inc2.parent, first.backupId);
    assert.ok(inc2.sizeBytes < list[0]!.sizeBytes, `incremental ${inc2.sizeBytes} >= full ${list[0]!.sizeBytes}`);

    const to = restoreDir('incremental');
    const port = await freePort();
    const restored = await dm.restoreBackup(second.backupId, { destination, to, start: { port } });
    assert.match(restored.recoverySettings[0]!, new RegExp(`chain=.*${first.backupId},${second.backupId}$`));
    assert.deepEqual(await checksums(server, port), source);
    await stopRestoredServer(to);
  });

  it('point-in-time: a restore to a second between two stamped writes holds exactly the earlier writes', async () => {
    await server.sql("CREATE TABLE app.stamps (id INT AUTO_INCREMENT PRIMARY KEY, batch CHAR(1)); INSERT INTO app.stamps (batch) SELECT 'A' FROM app.seq_1_to_100");
    // The binlog stamps events in whole seconds: the target is the next whole second after batch A, and batch B is
    // written only once the clock has passed the whole second after the target.
    const target = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
    while (Date.now() < target.getTime() + 1100) await new Promise((r) => setTimeout(r, 50));
    await server.sql("INSERT INTO app.stamps (batch) SELECT 'B' FROM app.seq_1_to_50; UPDATE app.stamps SET batch = 'C' WHERE id <= 10");
    // The next backup archives the binlog holding both batches.
    await dm.createBackup({ ...SEED, type: 'incremental', destination });
    const [window] = await dm.backups.window('app', { destination });
    assert.ok(window!.to?.time && new Date(window!.to.time) >= target, `window ${JSON.stringify(window)}`);

    const to = restoreDir('pitr');
    const port = await freePort();
    const restored = await dm.restoreBackup(undefined, { destination, to, targetTime: target.toISOString(), start: { port } });
    assert.equal(restored.target, target.toISOString());
    const rows = await server.sql('SELECT batch, COUNT(*) AS n FROM app.stamps GROUP BY batch ORDER BY batch', port) as { batch: string; n: number }[];
    assert.deepEqual(rows.map((r) => [r.batch, Number(r.n)]), [['A', 100]]);
    await stopRestoredServer(to);
  });

  it('a restore drill restores the newest backup into a throwaway server, counts rows, and removes it', async () => {
    const [report] = await dm.backups.drill({ destination, database: 'app', pointInTime: false, checks: { sql: 'SELECT COUNT(*) >= 23000 FROM app.orders' } });
    assert.equal(report!.ok, true, JSON.stringify(report));
    assert.ok(report!.runs[0]!.tables.some((t) => t.name === '`app`.`orders`' && t.rows === 23_000), JSON.stringify(report!.runs[0]!.tables));
  });

  it('a binlog file removed from the repository is a detected gap (verify, window, and a refused restore past it)', async () => {
    await server.sql("INSERT INTO app.stamps (batch) VALUES ('D'); FLUSH BINARY LOGS; INSERT INTO app.stamps (batch) VALUES ('E'); FLUSH BINARY LOGS; INSERT INTO app.stamps (batch) VALUES ('F')");
    const latest = await dm.createBackup({ ...SEED, type: 'incremental', destination });
    const list = await dm.backups.listBackups({ destination });
    const full = list[0]!;
    const repository = await openRepository(join(destination, 'app'), { passphrase: `mariadb backup test ${process.pid}`, workers: 1 });
    try {
      const pieces = (await repository.listWal()).filter((n) => n.startsWith('B'));
      const seqs = [...new Set(pieces.map((n) => Number(n.slice(1, 8))))].sort((a, b) => a - b);
      assert.ok(seqs.length >= 3, `binlog files archived: ${seqs.join(', ')}`);
      const middle = seqs.at(-2)!;
      assert.equal((await dm.backups.verifyBackup(full.backupId, { destination })).ok, true);
      await repository.deleteWal(pieces.filter((n) => Number(n.slice(1, 8)) === middle));
    } finally {
      await repository.close();
    }
    const verify = await dm.backups.verifyBackup(full.backupId, { destination });
    assert.equal(verify.ok, false);
    assert.ok(verify.problems.some((p) => p.kind === 'missing-wal'), JSON.stringify(verify.problems));
    const [window] = await dm.backups.window('app', { destination });
    assert.match(String(window!.firstMissingWal), /binlog file \d+/);
    await assert.rejects(
      dm.restoreBackup(full.backupId, { destination, to: restoreDir('gap'), targetTime: new Date(Date.now() - 500).toISOString() }),
      (error: Error & { reason?: string }) => error.reason === 'target-unreachable' && /gap|stops before/.test(error.message),
    );
    assert.ok(latest.backupId);
  });

  it('a server that is down gives a clear error and leaves no partial backup', async () => {
    const before = (await dm.backups.listBackups({ destination })).length;
    await server.stop();
    try {
      await assert.rejects(dm.createBackup({ ...SEED, type: 'full', destination }), (error: Error & { code?: string; reason?: string }) =>
        error.code === 'DK_BACKUP' && error.reason === 'server-unreachable' && /cannot connect to the MariaDB server at 127\.0\.0\.1:\d+/.test(error.message));
      assert.equal((await dm.backups.listBackups({ destination })).length, before);
    } finally {
      await server.restart();
    }
  });
  it('retention expires older backups and the binlog files only they needed; the window starts at the kept full', async () => {
    const full = await dm.createBackup({ ...SEED, type: 'full', destination });
    const kept = (await dm.backups.listBackups({ destination })).find((b) => b.backupId === full.backupId)!;
    const firstKept = Number(String(kept.metadata.binlogFile).split('.').pop());
    const [expired] = await dm.backups.expireBackups({ destination, retention: { daily: 1, weekly: 0, monthly: 0, yearly: 0, recoveryWindow: 0 } });
    assert.ok(expired!.expired.length >= 5, JSON.stringify(expired));
    assert.ok(expired!.walRemoved > 0, JSON.stringify(expired));
    const repository = await openRepository(join(destination, 'app'), { passphrase: `mariadb backup test ${process.pid}`, workers: 1 });
    try {
      const seqs = (await repository.listWal()).filter((n) => n.startsWith('B')).map((n) => Number(n.slice(1, 8)));
      assert.ok(seqs.length > 0 && seqs.every((seq) => seq >= firstKept), `left: ${seqs.join(', ')}; kept from ${firstKept}`);
    } finally {
      await repository.close();
    }
    const [window] = await dm.backups.window('app', { destination });
    assert.equal(window!.from?.backupId, full.backupId);
    assert.equal(window!.firstMissingWal, undefined);
  });
});
