// Regression tests for the point-in-time recovery defects of issue 9, part 2 of 3: a stopped source, the printed
// start command, restore locations and restores that fail or are killed. Each runs on a real cluster archiving through
// `datakeep wal push` (archive_command), restored and started as a user would: through the library and the CLI. The
// setup the three parts share (one cluster each, built the same way) is test/support/pitr-defects-fixture.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { PostgresBackupError } from '../../src/engines/postgres/backup/postgres-backup-error.js';
import { freePort } from '../support/free-port.js';
import {
  DB, cluster, work, destination, passphraseFile, configFile, dm, started,
  sleep, notesOn, stopRestored, cli, restoreAndRead, incremental, midTime, fullStop,
  usePitrDefectsFixture,
} from '../support/pitr-defects-fixture.js';

describe('point-in-time recovery defects (issue 9), part 2 of 3', () => {
  usePitrDefectsFixture('pitr-defects-2');

  it('4, 6. list, verify and restore work with the source stopped, taking the passphrase from the config file or --passphrase-file', async () => {
    await cluster.stop();
    try {
      const list = await cli(['backup', 'list', '--config', configFile]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, new RegExp(incremental));
      assert.match(list.stdout, /recoverable on timeline 1 from/);
      const samples = await dm.backups.windowMetrics();
      const start = samples.find((m) => m.name === 'datakeep_backup_recovery_window_start_seconds');
      const end = samples.find((m) => m.name === 'datakeep_backup_recovery_window_end_seconds');
      assert.ok(start && end && start.labels.database === DB && start.value <= fullStop.getTime() / 1000 + 1 && end.value > midTime.getTime() / 1000, JSON.stringify(samples));
      const verify = await cli(['backup', 'verify', incremental, '--config', configFile]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /^ok: /m);
      const bare = join(work, 'bare.config.json');
      writeFileSync(bare, JSON.stringify({ databases: [{ ...cluster.config, id: DB }], backups: { destination } }));
      const noPassphrase = await cli(['backup', 'list', '--config', bare]);
      assert.equal(noPassphrase.code, 2, noPassphrase.stderr);
      const withFlag = await cli(['backup', 'list', '--config', bare, '--passphrase-file', passphraseFile]);
      assert.equal(withFlag.code, 0, withFlag.stderr);
      const port = await freePort('127.0.0.1');
      const to = join(work, 'while-down');
      started.add(to);
      const restore = await cli(['restore', '--config', configFile, '--to', to, '--target-time', midTime.toISOString(), '--start-port', String(port)]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(await notesOn(port), { a: 20, b1: 20 });
      await stopRestored(to);
    } finally {
      await cluster.start();
    }
  });

  it('5. the printed start command works with the passphrase from the environment, on the port asked for', async () => {
    const bare = join(work, 'env.config.json');
    writeFileSync(bare, JSON.stringify({ databases: [{ ...cluster.config, id: DB }], backups: { destination } }));
    const port = await freePort('127.0.0.1');
    const to = join(work, 'printed');
    const restore = await cli(['restore', '--config', bare, '--to', to, '--target-time', midTime.toISOString(), '--port', String(port)], { DATAKEEP_REPO_PASSPHRASE: readFileSync(passphraseFile, 'utf8').trim() });
    assert.equal(restore.code, 0, restore.stderr);
    const command = /^start it with: (.+)$/m.exec(restore.stdout)?.[1];
    assert.ok(command, restore.stdout);
    assert.ok(existsSync(join(to, 'datakeep_restore_passphrase')));
    assert.equal(statSync(join(to, 'datakeep_restore_passphrase')).mode & 0o777, 0o600);
    started.add(to);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { cwd: '/', stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`"${command}" exited ${String(code)}`))));
    });
    const deadline = Date.now() + 120_000;
    let notes: Record<string, number> | undefined;
    while (!notes && Date.now() < deadline) {
      notes = await notesOn(port).catch(() => undefined);
      if (!notes) await sleep(300);
    }
    assert.deepEqual(notes, { a: 20, b1: 20 });
    assert.equal(existsSync(join(to, 'datakeep_restore_passphrase')), false, 'recovery_end_command removed the passphrase file');
    assert.doesNotMatch(restore.stdout + restore.stderr, new RegExp(readFileSync(passphraseFile, 'utf8').trim()));
    await stopRestored(to);
  });

  it('7. the default restore location works as root, and a location the server cannot enter is refused first', async () => {
    const result = await restoreAndRead({ targetTime: midTime, to: undefined });
    assert.deepEqual(result.notes, { a: 20, b1: 20 });
    // Missing parents are created so that the server can pass; spaces and quotes in the path survive pg_ctl's shell.
    const odd = await restoreAndRead({ targetTime: midTime, to: join(work, 'new parent', "it's here") });
    assert.deepEqual(odd.notes, { a: 20, b1: 20 });
    if (process.getuid?.() === 0) {
      const privateDir = mkdtempSync(join(tmpdir(), 'dk-private-'));
      try {
        await assert.rejects(dm.restoreBackup(undefined, { to: join(privateDir, 'restored') }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'unsafe-destination' && e.message.includes(`cannot enter ${privateDir}`));
        assert.deepEqual(readdirSync(privateDir), []);
      } finally {
        rmSync(privateDir, { recursive: true, force: true });
      }
    }
  });

  it('9, 12. a restore that fails at start removes what it wrote; the CLI prints the whole error; the retry works', async () => {
    const to = join(work, 'fails-at-start');
    // The source's own port is taken: the restored server cannot bind and stops.
    const failed = await cli(['restore', '--config', configFile, '--to', to, '--target-time', midTime.toISOString(), '--start-port', String(cluster.port)]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /server log/);
    assert.match(failed.stderr, /was removed, so the same restore can be retried/);
    assert.equal(existsSync(to), false);
    const kept = await dm.restoreBackup(undefined, { to, targetTime: midTime, start: { port: cluster.port }, keepFailed: true }).then(() => undefined, (e: unknown) => e as Error);
    assert.match(kept?.message ?? '', /is kept in/);
    assert.ok(existsSync(join(to, 'PG_VERSION')));
    rmSync(to, { recursive: true, force: true });
    const retry = await restoreAndRead({ to, targetTime: midTime });
    assert.deepEqual(retry.notes, { a: 20, b1: 20 });
  });

  it('9. a restore killed half-way leaves a marked directory that the next restore clears and reuses', async () => {
    const to = join(work, 'killed-midway');
    const [command, ...prefix] = datakeepCommandLine();
    const child = spawn(command!, [...prefix, 'restore', '--config', configFile, '--to', to, '--target-time', midTime.toISOString()], { cwd: work, stdio: 'ignore' });
    const deadline = Date.now() + 120_000;
    while (!(existsSync(join(to, '.datakeep-restore-incomplete')) && existsSync(join(to, 'base'))) && Date.now() < deadline) await sleep(20);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(existsSync(join(to, '.datakeep-restore-incomplete')), 'the killed restore left its marker');
    const retry = await restoreAndRead({ to, targetTime: midTime });
    assert.deepEqual(retry.notes, { a: 20, b1: 20 });
  });
});
