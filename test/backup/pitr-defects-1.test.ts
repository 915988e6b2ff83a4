// Regression tests for the point-in-time recovery defects of issue 9, part 1 of 3: targets, zones and the archiving
// of restored copies. Each runs on a real cluster archiving through `datakeep wal push` (archive_command), restored
// and started as a user would: through the library and the CLI. The setup the three parts share (one cluster each,
// built the same way) is test/support/pitr-defects-fixture.ts.
import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { UsageError } from '../../src/errors/index.js';
import { freePort } from '../support/free-port.js';
import {
  work, destination, configFile, dm, started, sleep, stopRestored,
  cli, restoreAndRead, repoPath, sourceWal, full, incremental, midTime, midLsn,
  usePitrDefectsFixture,
} from '../support/pitr-defects-fixture.js';

describe('point-in-time recovery defects (issue 9), part 1 of 3', () => {
  usePitrDefectsFixture('pitr-defects-1');

  it('2. a target before the asked-for incremental restores from its ancestor, and says so (ISO Z from Date.toISOString())', async () => {
    const result = await restoreAndRead({ targetTime: midTime.toISOString() }, incremental);
    assert.equal(result.base, full);
    assert.match(result.note ?? '', new RegExp(`backup ${incremental} is consistent only from .* ancestor ${full}`));
    assert.deepEqual(result.notes, { a: 20, b1: 20 });
  });

  it('2. target LSN and target name with no id pick the newest backup consistent before them', async () => {
    const byLsn = await restoreAndRead({ targetLsn: midLsn });
    assert.equal(byLsn.base, full);
    assert.deepEqual(byLsn.notes, { a: 20, b1: 20 });
    const byName = await restoreAndRead({ targetName: 'before-b2' });
    assert.equal(byName.base, full);
    assert.deepEqual(byName.notes, { a: 20, b1: 20 });
  });

  it('3. target times: offsets and zones become one instant; bad or zone-less times are refused with the field named', async () => {
    const to = join(work, 'never-written-3');
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: '2026-13-45 99:99:99+00' }), (e: unknown) => e instanceof UsageError && /targetTime/.test(e.message));
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: 'garbage' }), (e: unknown) => e instanceof UsageError && /targetTime/.test(e.message));
    const wall = new Intl.DateTimeFormat('sv-SE', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hourCycle: 'h23' }).format(midTime).replace(',', '.');
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: wall }), (e: unknown) => e instanceof UsageError && /no time zone/.test(e.message) && /timeZone/.test(e.message));
    assert.equal(existsSync(to), false);
    const zoned = await restoreAndRead({ targetTime: wall, timeZone: 'America/New_York' });
    assert.deepEqual(zoned.notes, { a: 20, b1: 20 });
    const garbage = await cli(['restore', '--config', configFile, '--to', to, '--target-time', 'garbage']);
    assert.equal(garbage.code, 2, garbage.stderr);
    assert.match(garbage.stderr, /--target-time: "garbage"/);
    const abbreviation = await cli(['restore', '--config', configFile, '--to', to, '--target-time', '2026-12-02 01:39:22 IST']);
    assert.equal(abbreviation.code, 2, abbreviation.stderr);
    assert.match(abbreviation.stderr, /abbreviation/);
    const twoPorts = await cli(['restore', '--config', configFile, '--to', to, '--port', '5999', '--start-port', '5998']);
    assert.equal(twoPorts.code, 2, twoPorts.stderr);
    assert.match(twoPorts.stderr, /--port: 5999 differs from --start-port 5998/);
  });

  it('1. a restored, promoted cluster does not archive into its source (archiving off, its backup\'s timeline)', async () => {
    const before = await sourceWal();
    const port = await freePort('127.0.0.1');
    const to = join(work, 'promoted');
    started.add(to);
    const result = await dm.restoreBackup(undefined, { to, targetTime: midTime, start: { port } });
    assert.ok(result.recoverySettings.includes("archive_mode = 'off'"), result.recoverySettings.join('\n'));
    assert.ok(result.recoverySettings.includes("recovery_target_timeline = '1'"), result.recoverySettings.join('\n'));
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await client.connect();
    await client.query("INSERT INTO t (note) VALUES ('written on the copy')");
    await client.query('SELECT pg_switch_wal()');
    await client.end();
    await sleep(1500);
    await stopRestored(to);
    const after = await sourceWal();
    assert.deepEqual(after.filter((n) => !before.includes(n) && (n.endsWith('.history') || !n.startsWith('00000001'))), [], 'no other timeline reached the source repository');
    // A restore of everything still follows the source's own history.
    const latest = await restoreAndRead({});
    assert.deepEqual(latest.notes, { a: 20, b1: 20, b2: 20, c: 20, d: 1 });
  });

  it('1. archiveTo gives the restored cluster a repository of its own', async () => {
    const own = join(work, 'copy-repo');
    const port = await freePort('127.0.0.1');
    const to = join(work, 'archiving-copy');
    started.add(to);
    const result = await dm.restoreBackup(undefined, { to, targetTime: midTime, start: { port }, archiveTo: own });
    assert.ok(result.recoverySettings.some((l) => l.startsWith('archive_command') && l.includes(own)));
    await assert.rejects(dm.restoreBackup(undefined, { to: join(work, 'x'), archiveTo: repoPath() }), /is \(or holds\) the repository being restored from/);
    symlinkSync(repoPath(), join(work, 'link-to-source'));
    await assert.rejects(dm.restoreBackup(undefined, { to: join(work, 'x'), archiveTo: join(work, 'link-to-source') }), /is \(or holds\) the repository being restored from/);
    await assert.rejects(dm.restoreBackup(undefined, { to: join(work, 'x'), archiveTo: destination }), /the repository being restored from|the backup destination itself/);
    assert.equal(existsSync(join(work, 'x')), false);
    await stopRestored(to);
  });
});
