// The rules behind the time-based checks, on fixed instants: what an hourly backup schedule makes of a backup 30 min,
// 70 min and 3 h old (the integration test turns the same check with a per-second schedule, since a real backup
// cannot be made hours old), and when a lifecycle policy counts as behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupChecks } from '../../src/backup/backup-checks.js';
import type { DatabaseBackupFacts } from '../../src/backup/backup-facts.js';
import { lifecycleChecks } from '../../src/lifecycle/lifecycle-checks.js';
import type { LifecyclePolicy } from '../../src/lifecycle/lifecycle-policy.js';
import type { JobRunRecord } from '../../src/scheduler/job-scheduler.js';
import { missedTicks } from '../../src/scheduler/missed-ticks.js';

const NOW = new Date('2026-03-10T12:20:00Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);

function facts(finishedMinutesAgo: number, extra: Partial<DatabaseBackupFacts> = {}): DatabaseBackupFacts {
  const finishedAt = minutesAgo(finishedMinutesAgo);
  return {
    database: 'pg', engine: 'postgresql', error: undefined, backups: 3, archive: undefined, window: undefined, lastDrill: undefined, drillsKnown: true,
    newest: { backupId: 'b1', startedAt: new Date(finishedAt.getTime() - 60_000), finishedAt }, ...extra,
  };
}

const age = (f: DatabaseBackupFacts, cron: string | undefined) => backupChecks([f], { backup: cron ? { cron, timeZone: 'UTC' } : undefined, drill: undefined }, NOW)[0]!;

describe('backup age against the schedule', () => {
  it('hourly: 15 min old is ok, one missed tick warns, two or more are an error', () => {
    assert.equal(age(facts(15), '0 * * * *').status, 'ok');
    // Finished 11:10; the 12:00 tick passed 20 min ago (more than 5 % of an hour) without a backup.
    const one = age(facts(70), '0 * * * *');
    assert.equal(one.status, 'warn');
    assert.match(one.detail, /1 scheduled backup\(s\) missing since 2026-03-10T12:00:00.000Z/);
    const three = age(facts(180), '0 * * * *');
    assert.equal(three.status, 'error');
    assert.match(three.detail, /expects one every 60 min: 3 or more scheduled backup\(s\) missing/);
  });

  it('a tick within the grace (a backup that may still be running) is not missed', () => {
    // 12:15 tick, 5 minutes ago; the last backup took 4 minutes, so it may run until 12:23.
    const f = facts(30, { newest: { backupId: 'b1', startedAt: minutesAgo(34), finishedAt: minutesAgo(30) } });
    assert.equal(age(f, '15 * * * *').status, 'ok');
  });

  it('no backup is an error, no schedule a warning, a repository that cannot be read an error naming why', () => {
    assert.equal(age({ ...facts(0), newest: undefined, backups: 0 }, '0 * * * *').status, 'error');
    assert.match(age(facts(10), undefined).detail, /no backup schedule configured/);
    assert.match(age({ ...facts(0), newest: undefined, error: 'wrong passphrase' }, '0 * * * *').detail, /cannot read the backup repository: wrong passphrase/);
  });

  it('the WAL archive: off, failing, a gap, behind', () => {
    const archive = { archiving: true, archiver: { lastArchived: 'A', lastArchivedAt: minutesAgo(1), lastFailed: undefined, lastFailedAt: undefined, failures: 0 }, current: '000000010000000000000010', archivedEnd: '00000001000000000000000F', behind: 0, gap: undefined };
    const wal = (a: typeof archive | Record<string, unknown>) => backupChecks([facts(10, { archive: { ...archive, ...a } as DatabaseBackupFacts['archive'] })], { backup: undefined, drill: undefined }, NOW)[1]!;
    assert.equal(wal({}).status, 'ok');
    assert.equal(wal({ archiving: false }).status, 'error');
    assert.match(wal({ archiver: { ...archive.archiver, lastFailed: 'B', lastFailedAt: NOW, failures: 4 } }).detail, /archive_command is failing: B failed/);
    assert.match(wal({ gap: { missing: 'X', laterArchived: 2 } }).detail, /WAL gap: X is missing/);
    assert.equal(wal({ behind: 5 }).status, 'warn');
  });
});

describe('missed ticks and lifecycle policies behind their schedule', () => {
  it('counts ticks after the last start, up to 3', () => {
    assert.deepEqual(missedTicks('0 * * * *', 'UTC', minutesAgo(10), NOW).missed, 0);
    assert.equal(missedTicks('0 * * * *', 'UTC', minutesAgo(70), NOW).missed, 1);
    assert.equal(missedTicks('0 * * * *', 'UTC', minutesAgo(90), NOW).missed, 2);
    assert.equal(missedTicks('0 * * * *', 'UTC', undefined, NOW).missed, 3);
    assert.equal(missedTicks('0 3 * * *', 'UTC', minutesAgo(60 * 24 * 5), NOW).intervalMs, 86_400_000);
  });

  it('a policy with two missed ticks warns; a failed last run is an error', () => {
    const policy = { name: 'retention:events', schedule: '0 * * * *', timeZone: 'UTC' } as LifecyclePolicy;
    const run = (startedAt: Date, status: JobRunRecord['status'] = 'succeeded'): JobRunRecord => ({ id: 1, job: 'lifecycle:retention:events', scheduledFor: null, startedAt, finishedAt: startedAt, status, instance: null, details: { outcome: 'done' }, error: status === 'failed' ? 'boom' : null });
    const status = (last: JobRunRecord) => lifecycleChecks([policy], new Map([[policy.name, last]]), new Map(), NOW)[0]!;
    assert.equal(status(run(minutesAgo(30))).status, 'ok');
    assert.equal(status(run(minutesAgo(150))).status, 'warn');
    assert.match(status(run(minutesAgo(150))).detail, /behind its schedule \(0 \* \* \* \*\)/);
    assert.equal(status(run(minutesAgo(5), 'failed')).status, 'error');
  });
});
