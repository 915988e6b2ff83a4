import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupPostgres, backupPostgresStream, PostgresBackupError, type PostgresBackupProgress } from '../../src/engines/postgres/backup/index.js';
import { initRepository } from '../../src/repository/index.js';
import { chownTree, startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';

const DB = 'preflight';
let env: ArchivingPostgres;
let goodCommand: string;

before(async () => {
  env = await startArchivingPostgres('preflight');
  await env.cluster.query('CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g');
  goodCommand = shell(env.walArgv(['push', '%p']));
});
after(async () => {
  await env?.destroy();
});

/** As the fixture writes archive_command: %p unquoted, everything else single-quoted. */
function shell(argv: readonly string[]): string {
  return argv.map((a) => (a.startsWith('%') ? a : `'${a}'`)).join(' ');
}

/** archive_command is a reload setting: ALTER SYSTEM wins over the include file, and the archiver rereads it. */
async function setArchiveCommand(command: string): Promise<void> {
  await env.cluster.query(`ALTER SYSTEM SET archive_command = '${command.replace(/'/g, "''")}'`);
  await env.cluster.query('SELECT pg_reload_conf()');
  await new Promise((resolve) => setTimeout(resolve, 500));
}

function recorder(): { events: PostgresBackupProgress[]; onProgress: (p: PostgresBackupProgress) => void; phases: () => Set<string> } {
  const events: PostgresBackupProgress[] = [];
  return { events, onProgress: (p) => events.push(p), phases: () => new Set(events.map((e) => e.phase)) };
}

function dataDirectoryBackup(onProgress: (p: PostgresBackupProgress) => void, walTimeoutMs = 60_000, database = DB) {
  return backupPostgres({
    connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' },
    dataDirectory: env.cluster.dataDir, repository: env.repository, type: 'full', database, walTimeoutMs, onProgress,
  });
}

function streamBackup(onProgress: (p: PostgresBackupProgress) => void, walTimeoutMs = 60_000, database = DB) {
  return backupPostgresStream({ host: env.cluster.host, port: env.cluster.port, user: 'postgres', repository: env.repository, database, walTimeoutMs, onProgress });
}

async function assertNothingListed(): Promise<void> {
  const listed = (await env.repository.list()).filter((s) => s.database === DB);
  assert.deepEqual(listed.map((s) => s.backupId), [], 'a failed backup is not listed');
}

describe('archive check before a backup copies anything', () => {
  it('a working archive: the check passes first, and bytesDone reaches bytesTotal', async () => {
    const plain = recorder();
    const result = await dataDirectoryBackup(plain.onProgress, 60_000, 'happy');
    const phases = plain.events.map((e) => e.phase);
    assert.ok(phases.indexOf('checking-archive') >= 0 && phases.indexOf('checking-archive') < phases.indexOf('copying'), `phases: ${[...new Set(phases)].join(', ')}`);
    const copying = plain.events.filter((e) => e.phase === 'copying');
    const first = copying[0]!;
    const last = copying.at(-1)!;
    assert.ok(first.bytesTotal > 1_000_000, `bytesTotal ${first.bytesTotal} is known when the copy starts`);
    assert.ok(Math.abs(first.bytesTotal - last.bytesTotal) < 0.1 * first.bytesTotal, 'the walk total holds within 10 % through the copy');
    assert.equal(last.bytesDone, last.bytesTotal);
    assert.equal(last.bytesDone, result.sizeBytes);
    assert.ok(!plain.events.some((e) => e.phase === 'completing' && e.walWaiting), 'walWaiting belongs to the waits only');

    const stream = recorder();
    const streamed = await streamBackup(stream.onProgress, 60_000, 'happy');
    const streamCopying = stream.events.filter((e) => e.phase === 'copying');
    const streamLast = streamCopying.at(-1)!;
    assert.ok(stream.phases().has('checking-archive'));
    assert.ok(streamCopying[0]!.bytesTotal > 1_000_000, `the server's estimate (${streamCopying[0]!.bytesTotal}) is known from the first file on`);
    assert.ok(streamLast.bytesDone <= streamLast.bytesTotal && streamLast.bytesDone > 0.8 * streamLast.bytesTotal, `done ${streamLast.bytesDone} of ${streamLast.bytesTotal}`);
    assert.equal(streamLast.bytesDone, streamed.sizeBytes);
  });

  it('archive_command fails: both methods fail within seconds naming archive_command, before copying anything', async () => {
    await setArchiveCommand('false');
    try {
      for (const [name, run] of [['backupPostgres', dataDirectoryBackup], ['backupPostgresStream', streamBackup]] as const) {
        const progress = recorder();
        const startedAt = Date.now();
        await assert.rejects(run(progress.onProgress), (error: unknown) => {
          assert.ok(error instanceof PostgresBackupError, String(error));
          assert.equal(error.reason, 'backup-failed', error.message);
          assert.match(error.message, /archive_command fails \(last failed WAL [0-9A-F]{24} at /);
          assert.match(error.message, /archive_command = 'false'/);
          assert.match(error.message, /server log/);
          return true;
        });
        const seconds = (Date.now() - startedAt) / 1000;
        assert.ok(seconds < 30, `${name} failed after ${seconds} s; the WAL timeout is 60 s`);
        assert.ok(!progress.phases().has('copying'), `${name} copied nothing`);
        assert.ok(!progress.phases().has('starting'), `${name} did not start backup mode`);
        const waits = progress.events.filter((e) => e.phase === 'checking-archive' && e.walWaiting);
        assert.ok(waits.length >= 1, `${name} reported what it waited for`);
        assert.match(waits[0]!.walWaiting!.segment, /^[0-9A-F]{24}$/);
      }
      await assertNothingListed();
    } finally {
      await setArchiveCommand(goodCommand);
    }
  });

  it('archive_command feeds another repository: wal-missing naming this repository, before copying anything', async () => {
    const otherPath = join(env.cluster.root, 'other-repo');
    await (await initRepository(otherPath, { passphrase: env.passphrase, workers: 1 })).close();
    chownTree(otherPath);
    await setArchiveCommand(shell(env.walArgv(['push', '%p']).map((a) => (a === env.repositoryPath ? otherPath : a))));
    try {
      for (const [name, run] of [['backupPostgres', dataDirectoryBackup], ['backupPostgresStream', streamBackup]] as const) {
        const progress = recorder();
        const startedAt = Date.now();
        await assert.rejects(run(progress.onProgress), (error: unknown) => {
          assert.ok(error instanceof PostgresBackupError, String(error));
          assert.equal(error.reason, 'wal-missing', error.message);
          assert.ok(error.message.includes(env.repositoryPath), error.message);
          assert.match(error.message, /does not feed THIS repository/);
          assert.match(error.message, /archive_command = '/);
          assert.match(error.items[0] ?? '', /^[0-9A-F]{24}$/);
          return true;
        });
        assert.ok((Date.now() - startedAt) / 1000 < 30, `${name} did not wait for the 60 s timeout`);
        assert.ok(!progress.phases().has('copying'), `${name} copied nothing`);
      }
      await assertNothingListed();
    } finally {
      await setArchiveCommand(goodCommand);
    }
  });

  it('archiving that breaks during a stream backup: pg_basebackup stuck in pg_backup_stop is stopped after walTimeoutMs', { timeout: 120_000 }, async () => {
    const flag = join(env.cluster.root, 'break-archiving');
    rmSync(flag, { force: true });
    await setArchiveCommand(`test ! -e '${flag}' && ${goodCommand}`);
    try {
      const progress = recorder();
      let dataSentAt = 0;
      const startedAt = Date.now();
      await assert.rejects(streamBackup((p) => {
        progress.onProgress(p);
        // The check has passed and pg_basebackup is sending: from now on the archiver fails.
        if (p.phase === 'copying') writeFileSync(flag, '');
        if (p.phase === 'waiting-for-wal' && dataSentAt === 0) dataSentAt = Date.now();
      }, 5_000), (error: unknown) => {
        assert.ok(error instanceof PostgresBackupError, String(error));
        assert.equal(error.reason, 'wal-missing', error.message);
        assert.match(error.message, /pg_backup_stop waited more than 5000 ms/);
        return true;
      });
      const afterDataSent = (Date.now() - dataSentAt) / 1000;
      assert.ok(dataSentAt > 0 && afterDataSent >= 4 && afterDataSent < 30, `stopped ${afterDataSent} s after the data was sent (${(Date.now() - startedAt) / 1000} s in all)`);
      const waits = progress.events.filter((e) => e.phase === 'waiting-for-wal' && e.walWaiting);
      assert.ok(waits.length >= 3, `the wait in pg_backup_stop is reported every second (${waits.length} reports)`);
      assert.ok(waits.at(-1)!.walWaiting!.seconds >= 4);
      await assertNothingListed();
      // The walsender would otherwise wait in pg_backup_stop for as long as archiving fails.
      const deadline = Date.now() + 10_000;
      let left: { pid: number }[] = [];
      do {
        left = await env.cluster.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'datakeep backup %'");
        if (left.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      } while (Date.now() < deadline);
      assert.deepEqual(left, [], 'no walsender of the stopped backup is left on the server');
    } finally {
      rmSync(flag, { force: true });
      await setArchiveCommand(goodCommand);
    }
  });
});
