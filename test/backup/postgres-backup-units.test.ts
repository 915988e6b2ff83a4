import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BackupSummary, ManifestFileEntry } from '../../src/repository/repository-types.js';
import { UsageError } from '../../src/errors/index.js';
import { walkDataDirectory } from '../../src/engines/postgres/backup/data-directory-walk.js';
import { isFileUnchanged } from '../../src/engines/postgres/backup/is-file-unchanged.js';
import { chooseRestoreBase } from '../../src/engines/postgres/backup/choose-restore-base.js';
import { PostgresBackupError } from '../../src/engines/postgres/backup/postgres-backup-error.js';
import { TimelineHistory } from '../../src/engines/postgres/backup/timeline-history.js';
import { readTar } from '../../src/engines/postgres/backup/read-tar.js';
import { recoverySettings } from '../../src/engines/postgres/backup/recovery-settings.js';
import { parseBackupLabel } from '../../src/engines/postgres/backup/backup-label.js';
import { formatLsn, parseLsn, parseSegmentName, segmentName, segmentsForBackup } from '../../src/engines/postgres/backup/wal-position.js';
import { chooseParentBackup } from '../../src/engines/postgres/backup/choose-parent-backup.js';

const SEG = 16 * 1024 * 1024;
const scratch = mkdtempSync(join(tmpdir(), 'dk-pgunits-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('WAL positions', () => {
  it('names segments as PostgreSQL does, across a log id boundary', () => {
    assert.equal(parseLsn('0/3000028'), 0x3000028n);
    assert.equal(formatLsn(parseLsn('1A/B0000060')), '1A/B0000060');
    assert.equal(segmentName(1, 3n, SEG), '000000010000000000000003');
    // 256 segments of 16 MiB fill one log id: the 257th is the first of log id 1.
    assert.equal(segmentName(2, parseLsn('1/0') / BigInt(SEG), SEG), '000000020000000100000000');
    assert.deepEqual(parseSegmentName('0000000300000001000000FF', SEG), { timeline: 3, segment: 256n + 255n });
    assert.equal(parseSegmentName('00000002.history', SEG), undefined);
  });

  it('a backup needs the segments from its start LSN to the one holding the byte before its stop LSN', () => {
    assert.deepEqual(segmentsForBackup(1, parseLsn('0/2000028'), parseLsn('0/2000138'), SEG), ['000000010000000000000002']);
    assert.deepEqual(segmentsForBackup(1, parseLsn('0/2000028'), parseLsn('0/4000100'), SEG),
      ['000000010000000000000002', '000000010000000000000003', '000000010000000000000004']);
    // A stop exactly on a boundary ends in the previous segment (XLByteToPrevSeg).
    assert.deepEqual(segmentsForBackup(1, parseLsn('0/2000028'), parseLsn('0/3000000'), SEG), ['000000010000000000000002']);
  });

  it('parses a backup_label', () => {
    const label = parseBackupLabel('START WAL LOCATION: 0/5000028 (file 000000020000000000000005)\nCHECKPOINT LOCATION: 0/5000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-01-01 00:00:00 UTC\nLABEL: x\nSTART TIMELINE: 2\n');
    assert.equal(label.startLsn, '0/5000028');
    assert.equal(label.timeline, 2);
    assert.equal(label.checkpointLsn, '0/5000060');
    assert.throws(() => parseBackupLabel('nothing here'), /START WAL LOCATION/);
  });
});

describe('change detection (pgBackRest rules)', () => {
  const parent = { path: 'base/1/1', size: 8192, mtimeMs: 1_000_000, mode: 0o600, sha256: '', chunks: [], storedIn: 'p' } satisfies ManifestFileEntry;
  const start = 1_000_000 + 5_000;
  it('reuses a file whose size, mtime and mode match and whose mtime is well before the parent started', () => {
    assert.equal(isFileUnchanged(parent, { size: 8192, mtimeMs: 1_000_000, mode: 0o600 }, start, 1000, start + 60_000), true);
  });
  it('reads again on any difference, a timestamp near the parent start, a future mtime, or an unknown start', () => {
    assert.equal(isFileUnchanged(parent, { size: 16384, mtimeMs: 1_000_000, mode: 0o600 }, start, 1000, start), false);
    assert.equal(isFileUnchanged(parent, { size: 8192, mtimeMs: 1_000_001, mode: 0o600 }, start, 1000, start), false);
    assert.equal(isFileUnchanged(parent, { size: 8192, mtimeMs: 1_000_000, mode: 0o640 }, start, 1000, start), false);
    assert.equal(isFileUnchanged(parent, { size: 8192, mtimeMs: 1_000_000, mode: 0o600 }, 1_000_500, 1000, start), false);
    assert.equal(isFileUnchanged(parent, { size: 8192, mtimeMs: 1_000_000, mode: 0o600 }, start, 1000, 999_000), false);
    assert.equal(isFileUnchanged(parent, { size: 8192, mtimeMs: 1_000_000, mode: 0o600 }, Number.NaN, 1000, start), false);
  });
});

function summary(id: string, type: BackupSummary['type'], stop: string, database = 'app', extra: { parent?: string; stopLsn?: string; timeline?: number } = {}): BackupSummary {
  return {
    backupId: id, type, parent: extra.parent, database, startedAt: stop, finishedAt: stop, sizeBytes: 0, storedBytes: 0,
    metadata: { stopTime: stop, startLsn: extra.stopLsn ?? '0/1000000', stopLsn: extra.stopLsn ?? '0/1000100', timeline: extra.timeline ?? 1 },
  };
}

const micros = (iso: string) => BigInt(new Date(iso).getTime()) * 1000n;

describe('choosing backups', () => {
  const list = [
    summary('f1', 'full', '2026-01-01T00:00:00Z', 'app', { stopLsn: '0/2000000' }),
    summary('i1', 'incremental', '2026-01-02T00:00:00Z', 'app', { parent: 'f1', stopLsn: '0/4000000' }),
    summary('d1', 'differential', '2026-01-03T00:00:00Z', 'app', { parent: 'f1', stopLsn: '0/6000000' }),
  ];
  const tl1 = new TimelineHistory(1, []);
  const at = (iso: string) => ({ kind: 'time' as const, micros: micros(iso), text: iso });
  it('picks the newest backup consistent before the target time or LSN', () => {
    assert.equal(chooseRestoreBase(list, at('2026-01-02T12:00:00Z'), tl1).base.backupId, 'i1');
    assert.equal(chooseRestoreBase(list, at('2026-01-05T00:00:00Z'), tl1).base.backupId, 'd1');
    assert.equal(chooseRestoreBase(list, { kind: 'lsn', lsn: parseLsn('0/5000000'), text: '0/5000000' }, tl1).base.backupId, 'i1');
    assert.equal(chooseRestoreBase(list, { kind: 'none' }, tl1).base.backupId, 'd1');
  });
  it('replaces an asked-for backup by its newest ancestor consistent before the target, and says so', () => {
    const chosen = chooseRestoreBase(list, at('2026-01-02T12:00:00Z'), tl1, 'd1');
    assert.equal(chosen.base.backupId, 'f1');
    assert.match(chosen.note ?? '', /backup d1 is consistent only from .*ancestor f1/);
    assert.equal(chooseRestoreBase(list, at('2026-01-02T12:00:00Z'), tl1, 'i1').base.backupId, 'i1');
  });
  it('refuses a target before every usable backup, naming the backups that can serve it', () => {
    assert.throws(() => chooseRestoreBase(list, at('2025-12-31T00:00:00Z'), tl1), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'target-unreachable' && /no backup in the repository is consistent before it/.test(e.message));
    const twoFulls = [...list, summary('f2', 'full', '2026-01-04T00:00:00Z', 'app', { stopLsn: '0/8000000' }), summary('i2', 'incremental', '2026-01-05T00:00:00Z', 'app', { parent: 'f2', stopLsn: '0/9000000' })];
    assert.throws(() => chooseRestoreBase(twoFulls, at('2026-01-03T12:00:00Z'), tl1, 'i2'), (e: unknown) => e instanceof PostgresBackupError && /before backup i2 and its whole chain/.test(e.message) && /d1 \(consistent from/.test(e.message));
  });
  it('keeps to the history of the chosen timeline', () => {
    const branched = [...list, summary('t2', 'full', '2026-01-04T00:00:00Z', 'app', { stopLsn: '0/7000000', timeline: 2 })];
    // Timeline 2 left timeline 1 at 0/5000000: d1 (stop 0/6000000 on timeline 1) is not on its history.
    const tl2 = TimelineHistory.parse(2, '1\t0/5000000\tno recovery target specified\n');
    assert.equal(chooseRestoreBase(branched, at('2026-01-03T12:00:00Z'), tl2).base.backupId, 'i1');
    assert.equal(chooseRestoreBase(branched, at('2026-01-05T00:00:00Z'), tl2).base.backupId, 't2');
    assert.equal(chooseRestoreBase(branched, at('2026-01-05T00:00:00Z'), tl1).base.backupId, 'd1');
    assert.equal(tl2.timelineOfSegment(4n, SEG), 1);
    assert.equal(tl2.timelineOfSegment(5n, SEG), 2);
  });
  it('a differential is relative to the newest full, an incremental to the newest backup', () => {
    assert.equal(chooseParentBackup(list, 'app', 'differential')?.backupId, 'f1');
    assert.equal(chooseParentBackup(list, 'app', 'incremental')?.backupId, 'd1');
    assert.equal(chooseParentBackup(list, 'app', 'full'), undefined);
    assert.throws(() => chooseParentBackup(list, 'nothing', 'incremental'), /take a full backup first/);
  });
});

describe('recovery settings', () => {
  it("writes restore_command, one target, promote, the backup's timeline, archiving off, the port; quotes values", () => {
    const lines = recoverySettings({ restoreCommand: "datakeep wal get %f '%p'", target: { time: '2026-03-01 10:11:12.345000+00', inclusive: false }, timeline: 3, port: 5499 });
    assert.deepEqual(lines, [
      "restore_command = 'datakeep wal get %f ''%p'''",
      "recovery_target_time = '2026-03-01 10:11:12.345000+00'",
      'recovery_target_inclusive = false',
      "recovery_target_action = 'promote'",
      "recovery_target_timeline = '3'",
      "archive_mode = 'off'",
      "synchronous_standby_names = ''",
      'port = 5499',
    ]);
    assert.deepEqual(recoverySettings({ restoreCommand: 'x', timeline: 'latest', archive: { archiveCommand: 'push %p' }, recoveryEndCommand: 'rm -f /d/p' }),
      ["restore_command = 'x'", "recovery_target_timeline = 'latest'", "archive_mode = 'on'", "archive_command = 'push %p'", "synchronous_standby_names = ''", "recovery_end_command = 'rm -f /d/p'"]);
  });
  it('refuses two targets, a bad LSN, a bad port and an empty restore command', () => {
    assert.throws(() => recoverySettings({ restoreCommand: 'x', timeline: 1, target: { time: '2026-01-01 00:00:00+00', lsn: '0/1' } }), (e: unknown) => e instanceof UsageError && /one recovery target/.test(e.message));
    assert.throws(() => recoverySettings({ restoreCommand: 'x', timeline: 1, target: { lsn: 'zz' } }), UsageError);
    assert.throws(() => recoverySettings({ restoreCommand: 'x', timeline: 1, port: 70000 }), /port/);
    assert.throws(() => recoverySettings({ restoreCommand: ' ', timeline: 1 }), UsageError);
  });
});

describe('data directory walk (pg_basebackup exclusions)', () => {
  it('skips runtime files, runtime directory contents, temp files, unlogged forks; follows tablespaces', async () => {
    const data = join(scratch, 'data');
    const spc = join(scratch, 'spc');
    const files = [
      'PG_VERSION', 'postmaster.pid', 'postmaster.opts', 'backup_label', 'global/pg_control', 'global/pg_internal.init',
      'pg_wal/000000010000000000000001', 'pg_wal/archive_status/000000010000000000000001.done', 'pg_stat_tmp/global.stat',
      'pg_replslot/slot/state', 'pg_subtrans/0000', 'pg_xact/0000', 'base/1/100', 'base/1/100.1', 'base/1/100_fsm',
      'base/1/200', 'base/1/200_init', 'base/1/200_fsm', 'base/1/200.1', 'base/1/t3_300', 'base/pgsql_tmp/pgsql_tmp1.0',
      // A restore's prefetched WAL and its passphrase, left while recovery runs: neither goes into a backup.
      'datakeep_wal_prefetch/000000010000000000000002', 'datakeep_wal_prefetch/want', 'datakeep_restore_passphrase',
    ];
    for (const f of files) {
      mkdirSync(join(data, f, '..'), { recursive: true });
      writeFileSync(join(data, f), f);
    }
    mkdirSync(join(data, 'pg_tblspc'), { recursive: true });
    mkdirSync(join(spc, 'PG_15_x', '5'), { recursive: true });
    writeFileSync(join(spc, 'PG_15_x', '5', '400'), 'tablespace data');
    symlinkSync(spc, join(data, 'pg_tblspc', '16400'));

    const listing = await walkDataDirectory(data);
    assert.deepEqual(listing.files.map((f) => f.path).sort(), [
      'PG_VERSION', 'base/1/100', 'base/1/100.1', 'base/1/100_fsm', 'base/1/200_init', 'global/pg_control',
      'pg_tblspc/16400/PG_15_x/5/400', 'pg_xact/0000',
    ]);
    const dirs = listing.directories.map((d) => d.path);
    for (const kept of ['pg_wal', 'pg_stat_tmp', 'pg_replslot', 'pg_subtrans', 'pg_tblspc/16400']) assert.ok(dirs.includes(kept), kept);
    assert.ok(!dirs.includes('pg_wal/archive_status') && !dirs.includes('base/pgsql_tmp'));
    assert.ok(!dirs.includes('datakeep_wal_prefetch'), 'the prefetch spool is skipped whole');
    assert.deepEqual(listing.tablespaces, [{ oid: '16400', location: spc }]);
  });
});

describe('streaming tar reader', () => {
  it('reads what GNU tar writes (ustar, pax and GNU long names, empty and multi-MiB files, links) without holding files', async () => {
    const src = join(scratch, 'tarsrc');
    const longDir = join(src, 'd'.repeat(90), 'e'.repeat(60));
    mkdirSync(longDir, { recursive: true });
    const contents = new Map<string, Buffer>([
      ['empty', Buffer.alloc(0)],
      ['small.txt', Buffer.from('hello')],
      ['big.bin', randomBytes(3 * 1024 * 1024 + 17)],
      [`${'d'.repeat(90)}/${'e'.repeat(60)}/long-name-file`, randomBytes(1000)],
    ]);
    for (const [name, data] of contents) writeFileSync(join(src, name), data);
    symlinkSync('small.txt', join(src, 'link'));
    for (const format of ['gnu', 'posix', 'ustar']) {
      const tarFile = join(scratch, `t-${format}.tar`);
      const args = ['-cf', tarFile, '-C', src, '.', `--format=${format}`];
      try {
        execFileSync('tar', args, { stdio: 'pipe' });
      } catch (error) {
        // ustar cannot store the 160-character name: GNU tar refuses, which is the format's limit, not ours.
        if (format === 'ustar') continue;
        throw error;
      }
      const seen = new Map<string, string>();
      let link = '';
      for await (const entry of readTar(createReadStream(tarFile, { highWaterMark: 7000 }))) {
        if (entry.type === 'file') {
          const hash = createHash('sha256');
          for await (const part of entry.body) hash.update(part as Buffer);
          seen.set(entry.path, hash.digest('hex'));
        } else if (entry.type === 'symlink') {
          link = entry.linkTarget;
        }
        // Directory bodies are left unread on purpose: the reader must skip them.
      }
      assert.equal(link, 'small.txt', format);
      for (const [name, data] of contents) {
        assert.equal(seen.get(name), createHash('sha256').update(data).digest('hex'), `${format}: ${name}`);
      }
    }
  });

  it('skips a file body the consumer did not read, and rejects a truncated stream', async () => {
    const src = join(scratch, 'tarskip');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'a'), randomBytes(100_000));
    writeFileSync(join(src, 'b'), 'second');
    const tarFile = join(scratch, 'skip.tar');
    execFileSync('tar', ['-cf', tarFile, '-C', src, 'a', 'b']);
    const names: string[] = [];
    let second = '';
    for await (const entry of readTar(createReadStream(tarFile))) {
      names.push(entry.path);
      if (entry.path === 'b') for await (const part of entry.body) second += String(part);
    }
    assert.deepEqual(names, ['a', 'b']);
    assert.equal(second, 'second');

    const whole = execFileSync('cat', [tarFile]);
    const cut = join(scratch, 'cut.tar');
    writeFileSync(cut, whole.subarray(0, 512 + 50_000));
    await assert.rejects(async () => {
      for await (const entry of readTar(createReadStream(cut))) for await (const _ of entry.body) void _;
    }, /ended in the middle/);
  });
});
