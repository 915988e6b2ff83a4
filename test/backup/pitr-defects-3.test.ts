// Regression tests for the point-in-time recovery defects of issue 9, part 3 of 3: refused targets, progress,
// retention, drills and (last, as it damages the archive) a corrupt segment. Each runs on a real cluster archiving
// through `datakeep wal push` (archive_command), restored and started as a user would: through the library and the
// CLI. The setup the three parts share (one cluster each, built the same way) is test/support/pitr-defects-fixture.ts.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PostgresBackupError } from '../../src/engines/postgres/backup/postgres-backup-error.js';
import { UsageError } from '../../src/errors/index.js';
import {
  cluster, work, destination, passphraseFile, dm, started, cli, restoreAndRead,
  repoPath, full, incremental, midTime, midLsn, fullStop, switchLsn,
  usePitrDefectsFixture,
} from '../support/pitr-defects-fixture.js';

describe('point-in-time recovery defects (issue 9), part 3 of 3', () => {
  usePitrDefectsFixture('pitr-defects-3');

  it('2. a target before every backup, after the archive, or in the future is refused before anything is written', async () => {
    const to = join(work, 'never-written');
    const before = new Date(fullStop.getTime() - 60_000);
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: before }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'target-unreachable' && /no backup in the repository is consistent before it/.test(e.message));
    await assert.rejects(dm.restoreBackup(incremental, { to, targetTime: before }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'target-unreachable');
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: new Date(Date.now() + 3_600_000) }), /in the future/);
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: new Date(Date.now() - 200) }), (e: unknown) => e instanceof PostgresBackupError && /after the last transaction in the archive/.test(e.message) && /recoverability window is/.test(e.message));
    await assert.rejects(dm.restoreBackup(undefined, { to, targetLsn: 'FF/0' }), /past the end of the archived WAL/);
    // Inside the archived range, but after its last record (the rest of the switched segment is empty).
    await assert.rejects(dm.restoreBackup(undefined, { to, targetLsn: switchLsn }), /lies after the last WAL record in the archive/);
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTimeline: 7 }), (e: unknown) => e instanceof UsageError && /timeline 7 is not in the archive/.test(e.message));
    await assert.rejects(dm.restoreBackup(undefined, { to, targetName: 'no such point' }), /no restore point "no such point"/);
    assert.equal(existsSync(to), false);
  });

  it('12. restore progress is counted in bytes up to the total', async () => {
    const seen: { phase: string; bytesDone: number; bytesTotal: number }[] = [];
    const to = join(work, 'progress');
    started.add(to);
    await dm.restoreBackup(undefined, { to, targetTime: midTime, onProgress: (p) => seen.push(p) });
    const last = seen.at(-1)!;
    assert.equal(last.phase, 'done');
    assert.ok(last.bytesTotal > 10_000_000 && last.bytesDone === last.bytesTotal, JSON.stringify(last));
    assert.ok(seen.some((p) => p.phase === 'checking-wal'));
    rmSync(to, { recursive: true, force: true });
  });

  it('8. a new full does not expire the chain the default recovery window still needs', async () => {
    const result = await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: { daily: 1 } });
    assert.deepEqual(result.expired[0]!.expired, []);
    assert.match(result.expired[0]!.window.description, /window/i);
    const restored = await restoreAndRead({ targetTime: midTime });
    assert.deepEqual(restored.notes, { a: 20, b1: 20 });
  });

  it('restore drills: the newest backup and a random point of the window, checked, recorded, removed', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const [report] = await dm.backups.drill({ checks: { sql: 'SELECT count(*) >= 20 FROM t' }, random });
    assert.ok(report, 'one report for the one database');
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(report.runs.map((r) => r.kind), ['latest', 'point-in-time']);
    assert.ok(report.runs[0]!.tables.some((t) => t.name === 'public.t' && t.rows === 81), JSON.stringify(report.runs[0]!.tables));
    assert.ok(report.runs.every((r) => r.check?.ok === true));
    // Only a boolean true passes: 1 is not an answer.
    const [failing] = await dm.backups.drill({ checks: { sql: 'SELECT 1' }, pointInTime: false });
    assert.equal(failing!.ok, false);
    const audit = await (await dm.state()).auditLog(5);
    assert.deepEqual(audit.filter((a) => a.action === 'backup.drill').map((a) => (a.details as { ok: boolean }).ok), [false, true]);
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('datakeep-drill-')), [], 'scratch directories removed');
    const scheduled = await dm.backups.setupDrills({ schedule: '0 4 * * 0', checks: { sql: 'SELECT true' } });
    assert.ok(scheduled.nextRun instanceof Date && scheduled.nextRun.getUTCDay() === 0, String(scheduled.nextRun));
    const rows = await (await dm.state()).adapter.query<{ kind: string; cron: string }>("SELECT kind, cron FROM datakeep.schedules WHERE kind = 'drill'");
    assert.deepEqual(rows.map((r) => [r.kind, r.cron]), [['drill', '0 4 * * 0']]);
  });

  it('10. a damaged archived segment fails verify, wal check and the pre-restore check, before anything is written', async () => {
    // The segment holding the mid target: needed by every restore to it.
    const name = (await cluster.query<{ name: string }>('SELECT pg_walfile_name($1::pg_lsn) AS name', [midLsn]))[0]!.name;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name === name) files.push(join(dir, entry.name));
      }
    };
    walk(join(repoPath(), 'wal'));
    assert.equal(files.length, 1, `stored ${name}`);
    const bytes = readFileSync(files[0]!);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(files[0]!, bytes);
    const verify = await dm.backups.verifyBackup(full);
    assert.equal(verify.ok, false);
    assert.ok(verify.problems.some((p) => p.kind === 'corrupt-wal' && p.message.includes(name)), JSON.stringify(verify.problems));
    const check = await cli(['wal', 'check', '--repo', repoPath(), '--passphrase-file', passphraseFile]);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`damaged segments.*${name}`));
    const to = join(work, 'never-written-10');
    await assert.rejects(dm.restoreBackup(full, { to, targetTime: midTime }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'backup-corrupt' && e.message.includes(name));
    assert.equal(existsSync(to), false);
  });
});
