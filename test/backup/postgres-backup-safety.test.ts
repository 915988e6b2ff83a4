import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, openSync, readSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupPostgres, PostgresBackupError, restorePostgres } from '../../src/engines/postgres/backup/index.js';
import type { BackupType } from '../../src/repository/repository-types.js';
import { startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const DB = 'bench';
let env: ArchivingPostgres;

before(async () => {
  env = await startArchivingPostgres('pgsafety');
  // pgbench -i -s 5: 500,000 accounts, about 75 MB of tables and indexes.
  await env.cluster.runAsPostgres('pgbench', ['-h', env.cluster.host, '-p', String(env.cluster.port), '-i', '-s', '5', '-q', 'postgres'], { timeoutMs: 120_000 });
});
after(async () => {
  await env?.destroy();
});

function backup(type: BackupType) {
  return backupPostgres({ connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' }, dataDirectory: env.cluster.dataDir, repository: env.repository, type, database: DB });
}

describe('PostgreSQL backup safety', () => {
  it('an incremental after updating 1 % of pgbench_accounts stores a small fraction of the full', async () => {
    const full = await backup('full');
    await env.cluster.query('UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 5000');
    await env.cluster.query('CHECKPOINT');
    const incremental = await backup('incremental');
    const reused = Number(incremental.manifest.metadata.filesReused);
    console.log(`full: ${full.sizeBytes} bytes of files, ${full.storedBytes} stored; incremental after a 1 % update: ${incremental.sizeBytes} bytes of files, ${incremental.storedBytes} stored (${(100 * incremental.storedBytes / full.storedBytes).toFixed(1)} % of the full), ${reused} of ${incremental.manifest.files.length} files reused unread`);
    assert.equal(incremental.parent, full.backupId);
    assert.ok(reused > 0, 'unchanged files are reused without reading');
    assert.ok(incremental.storedBytes < 0.25 * full.storedBytes, `incremental stored ${incremental.storedBytes}, full ${full.storedBytes}`);
    // Every file of the full is accounted for in the incremental (reused, stored again, or as changed pages).
    assert.ok(Math.abs(incremental.sizeBytes - full.sizeBytes) < 0.2 * full.sizeBytes);
  });

  it('a chain of page-level incrementals after scattered updates restores the exact table contents', async () => {
    const [rel] = await env.cluster.query<{ path: string }>("SELECT pg_relation_filepath('pgbench_accounts') AS path");
    // Scattered updates touch pages all over the table: each incremental stores only those pages.
    await env.cluster.query('UPDATE pgbench_accounts SET abalance = abalance + aid % 7 WHERE aid % 1009 = 0');
    const first = await backup('incremental');
    await env.cluster.query('UPDATE pgbench_accounts SET abalance = abalance - 3 WHERE aid % 997 = 0');
    await env.cluster.query('DELETE FROM pgbench_history');
    const second = await backup('incremental');
    const deltas = second.manifest.metadata.pageDeltas as Record<string, { pagesStored: number; size: number; baseDelta?: unknown }>;
    const accounts = deltas[rel!.path];
    assert.ok(accounts, `pgbench_accounts (${rel!.path}) is stored as changed pages`);
    assert.ok(accounts.baseDelta, 'over a base that is itself a page delta');
    assert.ok(accounts.pagesStored < accounts.size / 8192 / 2, `${accounts.pagesStored} pages stored of ${accounts.size / 8192}`);
    console.log(`page-level incrementals: ${first.storedBytes} and ${second.storedBytes} bytes stored; pgbench_accounts ${accounts.pagesStored} of ${accounts.size / 8192} pages in the second`);

    const checksum = "SELECT count(*) AS n, sum(abalance) AS total, md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) AS digest FROM pgbench_accounts";
    const [expected] = await env.cluster.query(checksum);
    const to = env.restoreDir('restored-pages');
    const port = await env.freePort();
    await restorePostgres({ repository: env.repository, backupId: second.backupId, to, restoreCommand: env.restoreCommand, settings: { archive_mode: 'off' }, start: { port } });
    try {
      const [actual] = await env.queryRestored<Record<string, unknown>>(port, checksum);
      assert.deepEqual(actual, expected);
      const [check] = await env.queryRestored<{ n: string }>(port, 'SELECT count(*) AS n FROM pgbench_history');
      assert.equal(Number(check!.n), 0);
    } finally {
      await env.stopRestored(to);
    }
  });

  it('a backup killed with SIGKILL midway is not listed nor restorable, and the next backup succeeds', async () => {
    const args = JSON.stringify({ repositoryPath: env.repositoryPath, passphrase: env.passphrase, dataDirectory: env.cluster.dataDir, port: env.cluster.port, type: 'full', database: DB });
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/postgres-backup-worker.ts'), args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let killedId: string | undefined;
    let buffered = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    child.stdout.on('data', (data: Buffer) => {
      buffered += data.toString();
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, newline)) as { backupId?: string; phase?: string; filesDone?: number; filesTotal?: number };
        buffered = buffered.slice(newline + 1);
        // Midway: the server is in backup mode and files are being stored.
        if (killedId === undefined && line.phase === 'copying' && (line.filesDone ?? 0) >= 5 && (line.filesDone ?? 0) < (line.filesTotal ?? 0)) {
          killedId = line.backupId;
          child.kill('SIGKILL');
        }
      }
    });
    const signal = await exited;
    assert.equal(signal, 'SIGKILL', `the worker finished before it was killed: ${stderr}`);
    assert.ok(killedId);

    const listed = await env.repository.list();
    assert.ok(!listed.some((b) => b.backupId === killedId), 'the killed backup is not listed');
    const to = env.restoreDir('restored-killed');
    await assert.rejects(
      restorePostgres({ repository: env.repository, backupId: killedId!, to, restoreCommand: env.restoreCommand }),
      (error: unknown) => error instanceof PostgresBackupError && error.reason === 'backup-not-found');
    assert.equal(existsSync(to), false, 'nothing was written');

    // The killed session took its backup mode with it: pg_backup_start works again at once.
    const next = await backup('full');
    assert.ok((await env.repository.list()).some((b) => b.backupId === next.backupId));
    const pruned = await env.repository.prune();
    assert.ok(pruned.chunksRemoved >= 0);
  });

  it('a chunk corrupted on disk: verify names it and restore refuses before writing anything', async () => {
    const latest = (await env.repository.list()).at(-1)!;
    const manifest = await env.repository.manifest(latest.backupId);
    const victim = [...manifest.files].sort((a, b) => b.size - a.size)[0]!;
    const chunk = victim.chunks[0]!;
    const chunkPath = join(env.repositoryPath, 'chunks', chunk.slice(0, 2), chunk);
    const fd = openSync(chunkPath, 'r+');
    const middle = Math.floor(statSync(chunkPath).size / 2);
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, middle);
    writeSync(fd, Buffer.from([byte[0]! ^ 0xff]), 0, 1, middle);
    closeSync(fd);

    const report = await env.repository.verify(latest.backupId);
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => p.chunk === chunk), JSON.stringify(report.problems));

    const to = env.restoreDir('restored-corrupt');
    await assert.rejects(
      restorePostgres({ repository: env.repository, backupId: latest.backupId, to, restoreCommand: env.restoreCommand }),
      (error: unknown) => {
        assert.ok(error instanceof PostgresBackupError, String(error));
        assert.equal(error.reason, 'backup-corrupt');
        assert.ok(error.items.some((item) => item.includes(chunk)), error.items.join(', '));
        return true;
      });
    assert.equal(existsSync(to), false, 'nothing was written');
  });
});

describe('a backup whose WAL never reaches the repository', () => {
  // The archive check before copying catches a failing archive_command at once (archive-preflight.test.ts covers the
  // final wait for the backup's own WAL, with archiving broken after the check).
  it('is refused before copying, not listed, and the error names the failing archive_command and segment', async () => {
    const broken = await startArchivingPostgres('pgnowal', { config: ["archive_command = '/bin/false'"] });
    try {
      await assert.rejects(
        backupPostgres({
          connection: { host: broken.cluster.host, port: broken.cluster.port, user: 'postgres', database: 'postgres' },
          dataDirectory: broken.cluster.dataDir, repository: broken.repository, type: 'full', database: 'nowal', walTimeoutMs: 3000,
        }),
        (error: unknown) => {
          assert.ok(error instanceof PostgresBackupError, String(error));
          assert.equal(error.reason, 'backup-failed');
          assert.match(error.message, /archive_command fails/);
          assert.ok(error.items.length >= 1 && error.items.every((name) => /^[0-9A-F]{24}$/.test(name)), error.items.join(','));
          assert.ok(error.items.every((name) => error.message.includes(name)));
          return true;
        });
      assert.deepEqual(await broken.repository.list(), []);
      // The server left backup mode with the failed run: a new pg_backup_start succeeds at once.
      await broken.cluster.query("SELECT pg_backup_start('probe', true)");
    } finally {
      await broken.destroy();
    }
  });
});
