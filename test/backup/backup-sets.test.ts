import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findBackupSet, isSetId, newSetId, readBackupSets, writeBackupSet, type BackupSet } from '../../src/backup/backup-sets.js';
import { restoreBackupSet } from '../../src/backup/restore-set.js';
import { BackupSetError, UsageError } from '../../src/errors/index.js';
import type { RestoreResult } from '../../src/backup/backup-types.js';

const dir = mkdtempSync(join(tmpdir(), 'dk-sets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const member = (database: string, backupId: string) => ({ database, engine: database.split('-')[0]!, backupId, type: 'full' });
const set = (started: Date, ...members: ReturnType<typeof member>[]): BackupSet => ({ setId: newSetId(started), startedAt: started.toISOString(), finishedAt: started.toISOString(), members });
const restored = (database: string, backupId: string, to: string): RestoreResult => ({ database, backupId, to, note: undefined, timeline: 1, target: undefined, started: false, walSegmentsChecked: 0, recoverySettings: [], startCommand: '' });

describe('backup sets (one per createBackup run, written when every member is complete)', () => {
  it('names sets sortably by start time and tells them from backup ids', () => {
    const id = newSetId(new Date('2026-12-05T11:25:08.123Z'));
    assert.match(id, /^set-20261205T112508Z-[0-9a-f]{8}$/);
    assert.ok(isSetId(id));
    assert.ok(!isSetId('20261205T112508Z-925532d051d'), 'a backup id is not a set id');
    assert.ok(!isSetId(undefined));
  });

  it('lists sets oldest first, keeps only members whose backup still exists, and skips a file that is not a set', async () => {
    const older = set(new Date('2026-12-01T00:00:00Z'), member('postgresql-a', 'b1'), member('redis-b', 'b2'));
    const newer = set(new Date('2026-12-02T00:00:00Z'), member('postgresql-a', 'b3'), member('redis-b', 'b4'));
    await writeBackupSet(dir, newer);
    await writeBackupSet(dir, older);
    writeFileSync(join(dir, '.sets', 'set-20261203T000000Z-deadbeef.json'), '{"cut short');
    assert.deepEqual(readdirSync(join(dir, '.sets')).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
    const all = await readBackupSets(dir, () => true);
    assert.deepEqual(all.map((s) => s.setId), [older.setId, newer.setId]);
    // Retention expired b1: the older set keeps its other member; with both gone it is not listed.
    const kept = new Set(['b2', 'b3', 'b4']);
    const listed = await readBackupSets(dir, (m) => kept.has(m.backupId));
    assert.deepEqual(listed[0]!.members.map((m) => m.backupId), ['b2']);
    assert.equal((await readBackupSets(dir, (m) => m.backupId === 'b3')).length, 1);
    await assert.rejects(findBackupSet(dir, 'set-20991231T000000Z-00000000', () => true), (e: unknown) => e instanceof UsageError && /no backup set "set-20991231T000000Z-00000000".*the newest: /.test(e.message));
  });

  it('restores every member to its own place (to/<database>), all to the same target time', async () => {
    const s = set(new Date('2026-12-04T00:00:00Z'), member('postgresql-a', 'p1'), member('mariadb-c', 'm1'));
    const calls: { backupId: string; to: string | undefined; targetTime: unknown; database: string | undefined }[] = [];
    const result = await restoreBackupSet(s, { to: '/restores/x', targetTime: '2026-12-04T00:00:05Z' }, async (backupId, o) => {
      calls.push({ backupId, to: o.to, targetTime: o.targetTime, database: o.database });
      return restored(o.database!, backupId, o.to!);
    });
    assert.deepEqual(calls, [
      { backupId: 'p1', to: '/restores/x/postgresql-a', targetTime: '2026-12-04T00:00:05.000Z', database: 'postgresql-a' },
      { backupId: 'm1', to: '/restores/x/mariadb-c', targetTime: '2026-12-04T00:00:05.000Z', database: 'mariadb-c' },
    ]);
    assert.equal(result.setId, s.setId);
    assert.deepEqual(result.members.map((m) => m.database), ['postgresql-a', 'mariadb-c']);
  });

  it('reads the target once, so that every member gets the same instant whatever form it was written in', async () => {
    const s = set(new Date('2026-12-04T00:00:00Z'), member('postgresql-a', 'p1'), member('mariadb-c', 'm1'), member('redis-b', 'r1'));
    const seen: unknown[] = [];
    const restore = (targetTime: Date | string, timeZone?: string) => restoreBackupSet(s, { targetTime, timeZone }, async (backupId, o) => {
      seen.push([o.targetTime, o.timeZone]);
      return restored(o.database!, backupId, '/r');
    });
    // PostgreSQL's literal with a short offset, a named zone, a zone-less time with timeZone, an ISO offset, a Date:
    // one instant, handed to each member as the same ISO text (microseconds kept) and no zone left to reread.
    for (const [input, zone] of [['2026-12-04 00:00:05.123456+00'], ['2026-12-04 00:00:05.123456 UTC'], ['2026-12-04 01:00:05.123456', 'Europe/Berlin'], ['2026-12-04T05:30:05.123456+05:30']] as const) {
      seen.length = 0;
      await restore(input, zone);
      assert.deepEqual(seen, Array(3).fill(['2026-12-04T00:00:05.123456Z', undefined]), `${input} ${zone ?? ''}`);
    }
    seen.length = 0;
    await restore(new Date('2026-12-04T00:00:05.123Z'));
    assert.deepEqual(seen, Array(3).fill(['2026-12-04T00:00:05.123Z', undefined]));
    // A time no engine could read is refused before any member is restored.
    await assert.rejects(restoreBackupSet(s, { targetTime: '2026-12-04 00:00:05' }, async () => assert.fail('nothing may be restored')),
      (e: unknown) => e instanceof UsageError && e.argument === 'targetTime');
  });

  it('refuses, before restoring anything, what cannot apply to several engines; names what was restored when a member fails', async () => {
    const s = set(new Date('2026-12-04T00:00:00Z'), member('postgresql-a', 'p1'), member('mariadb-c', 'm1'));
    const never = async (): Promise<RestoreResult> => assert.fail('nothing may be restored');
    await assert.rejects(restoreBackupSet(s, { targetLsn: '0/3000000' }, never), (e: unknown) => e instanceof UsageError && e.message.includes('targetLsn'));
    await assert.rejects(restoreBackupSet(s, { start: { port: 5999 } }, never), (e: unknown) => e instanceof UsageError && /one port/.test(e.message));
    await assert.rejects(restoreBackupSet(s, { database: 'redis-z' }, never), (e: unknown) => e instanceof UsageError && /no member "redis-z".*postgresql-a, mariadb-c/.test(e.message));
    const failing = restoreBackupSet(s, {}, async (backupId, o) => {
      if (o.database === 'mariadb-c') throw new Error('binlog missing');
      return restored(o.database!, backupId, '/r/a');
    });
    await assert.rejects(failing, (e: unknown) => e instanceof BackupSetError && e.failedDatabase === 'mariadb-c' && e.restored.length === 1 && /failed at mariadb-c .*binlog missing; already restored: postgresql-a into \/r\/a/.test(e.message));
  });
});
