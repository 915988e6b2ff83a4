import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import { archiveBinlog, stopRestoredServer } from '../../src/engines/mariadb/backup/index.js';
import { seqOfBinlogFile } from '../../src/engines/mariadb/backup/binlog-pieces.js';
import { openRepository } from '../../src/repository/index.js';
import { holdRepositoryLeaseInChild } from '../support/lock-holder-process.js';
import { freePort } from '../support/free-port.js';
import { CaptureWatch } from '../support/log-capture-watch.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayMariadb } from '../support/throwaway-mariadb.js';

/**
 * The continuous binlog capture (dm.backups.captures, MariaDB's captureLog) across a server killed by PID and
 * restarted: the capture fails, starts again on its own, archives the old binlog file to its end and the restarted
 * server's new one; a restore to a second after the restart holds exactly the rows committed up to it.
 */
describe('MariaDB continuous binlog capture across a server kill and restart', () => {
  let server: ThrowawayMariadb;
  let stateDb: TestDatabase;
  let work: string;
  let destination: string;
  let passphraseFile: string;
  let dm: DataManager;
  let restored: string | undefined;

  before(async () => {
    [server, stateDb] = await Promise.all([ThrowawayMariadb.start('marialogcap'), createTestDatabase('dk_marialogcap_state')]);
    work = mkdtempSync(join(tmpdir(), 'dk-marialogcap-'));
    chmodSync(work, 0o755);
    destination = join(work, 'backups');
    passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, `mariadb log capture test ${process.pid}\n`, { mode: 0o600 });
    await server.sql('CREATE DATABASE app; CREATE TABLE app.stamps (id INT AUTO_INCREMENT PRIMARY KEY, batch CHAR(1)) ENGINE=InnoDB');
    dm = new DataManager({ config: { databases: [{ ...server.config('app'), id: 'app' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
  });
  after(async () => {
    await dm?.close();
    if (restored) await stopRestoredServer(restored).catch(() => undefined);
    await server?.destroy();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('resumes after SIGKILL and restart, and a restore to a second after the restart holds exactly the rows up to it', async () => {
    // No backup yet: the capture says so and waits (retrying) until there is one.
    const capture = new CaptureWatch(dm, 'app', { destination, passphraseFile, intervalMs: 300 });
    let target = new Date(0);
    try {
      await capture.until((s) => s.status === 'retrying' && /no backup/.test(s.lastError?.message ?? ''), 20_000, 'the capture waiting for a first backup');
      await dm.createBackup({ type: 'full', destination, passphraseFile, compression: true, encryption: true, retention: { daily: 7 } });
      await server.sql("INSERT INTO app.stamps (batch) SELECT 'P' FROM app.seq_1_to_100");
      const before = await capture.caughtUp(20_000, 'the rows before the kill archived');
      await server.kill('SIGKILL');
      await capture.until((s) => s.status === 'retrying' && Date.parse(s.lastError!.at) > Date.parse(before.coveredUntil!), 20_000, 'the capture failing once the server is gone');
      await server.restart();
      await server.sql("INSERT INTO app.stamps (batch) SELECT 'A' FROM app.seq_1_to_100");
      // The binlog stamps events in whole seconds: B is written once the clock has passed the second after the target.
      target = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
      while (Date.now() < target.getTime() + 1100) await new Promise((r) => setTimeout(r, 50));
      await server.sql("INSERT INTO app.stamps (batch) SELECT 'B' FROM app.seq_1_to_50; UPDATE app.stamps SET batch = 'C' WHERE id <= 10");
      const after = await capture.caughtUp(30_000, 'the rows after the restart archived');
      assert.ok(after.restarts >= 2, JSON.stringify(after));
      assert.notEqual(after.position?.split(':')[0], before.position?.split(':')[0], 'the restarted server writes a new binlog file');
    } finally {
      await capture.stop();
    }
    const [window] = await dm.backups.window('app', { destination, passphraseFile });
    assert.equal(window!.firstMissingWal, undefined, JSON.stringify(window));
    const backups = await dm.backups.listBackups({ destination, passphraseFile });
    const verify = await dm.backups.verifyBackup(backups[0]!.backupId, { destination, passphraseFile });
    assert.equal(verify.ok, true, JSON.stringify(verify.problems));

    restored = join(work, 'restore');
    const port = await freePort();
    await dm.restoreBackup(undefined, { destination, passphraseFile, to: restored, targetTime: target.toISOString(), start: { port } });
    const rows = await server.sql('SELECT batch, COUNT(*) AS n FROM app.stamps GROUP BY batch ORDER BY batch', port) as { batch: string; n: number }[];
    assert.deepEqual(rows.map((r) => [r.batch, Number(r.n)]), [['A', 100], ['P', 100]]);
  });

  it('binlog archiving waits while another process archives into the same repository (its lease), and goes on at once when that process is killed', async () => {
    const path = join(destination, 'app');
    const passphrase = readFileSync(passphraseFile, 'utf8').trim();
    const holder = await holdRepositoryLeaseInChild(path, passphrase, 'mariadb-binlog');
    const repository = await openRepository(path, { passphrase, workers: 0 });
    const session = await server.connect();
    try {
      await server.sql("INSERT INTO app.stamps (batch) SELECT 'D' FROM app.seq_1_to_100");
      const piecesBefore = (await repository.listWal()).length;
      const [first] = await session.query<{ Log_name: string }[]>('SHOW BINARY LOGS');
      let settled = false;
      const run = archiveBinlog({ session, repository, fromSeq: seqOfBinlogFile(first!.Log_name) }).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(settled, false, 'a run started while another process holds the lease waits for it');
      assert.equal((await repository.listWal()).length, piecesBefore, 'and stores nothing meanwhile');
      const killedAt = Date.now();
      await holder.kill();
      const result = await run;
      assert.ok(result.stored.length > 0, `the run stored the new rows once the holder was gone: ${JSON.stringify(result)}`);
      assert.ok(Date.now() - killedAt < 15_000, 'the lease of a killed process is taken over without waiting for its heartbeat to age');
    } finally {
      await holder.kill();
      await session.end();
      await repository.close();
    }
    const [window] = await dm.backups.window('app', { destination, passphraseFile });
    assert.equal(window!.firstMissingWal, undefined, JSON.stringify(window));
  });
});
