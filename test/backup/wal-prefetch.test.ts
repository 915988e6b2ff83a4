// Restore-side WAL prefetching (pgBackRest's asynchronous archive-get) with real processes: `wal get --spool` and the
// detached prefetcher it starts, on an archive of synthetic 1 MiB segments across a log id wrap (a `.stream` snapshot
// at its end; a repository the prefetcher loses access to), then point-in-time restores of a real server through
// 12+ archived segments with prefetching on and off, and with the prefetcher SIGKILLed while recovery runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupPostgres, restorePostgres } from '../../src/engines/postgres/backup/index.js';
import { walGetCommand } from '../../src/engines/postgres/backup/wal-commands-for-server.js';
import { livePrefetcher, spoolTemporaryName, SPOOL_FILES, walPrefetchSpool } from '../../src/engines/postgres/backup/wal-prefetch-spool.js';
import { initRepository, type BackupRepository } from '../../src/repository/index.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { chownTree, postgresIds, startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';
import { syntheticSegment } from '../support/wal-segments.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

const segmentsIn = (spool: string) => (existsSync(spool) ? readdirSync(spool).filter((f) => /^[0-9A-F]{24}$/.test(f)).sort() : []);

describe('wal get --spool: the prefetcher on a synthetic archive', () => {
  // 1 MiB segments around the wrap from log id 0 to 1 (4096 segments per log id), then a streamed snapshot.
  const names = ['000000010000000000000FFC', '000000010000000000000FFD', '000000010000000000000FFE', '000000010000000000000FFF',
    '000000010000000100000000', '000000010000000100000001', '000000010000000100000002'];
  const streamed = '000000010000000100000003';
  let scratch: string;
  let repoPath: string;
  let keyFile: string;
  let repository: BackupRepository;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'dk-prefetch-'));
    // The postgres user runs one of these tests: it must reach the repository and the key.
    chmodSync(scratch, 0o755);
    repoPath = join(scratch, 'the repo');
    keyFile = join(scratch, 'key file');
    writeFileSync(keyFile, 'prefetch test passphrase\n', { mode: 0o600 });
    repository = await initRepository(repoPath, { passphrase: 'prefetch test passphrase', workers: 0 });
    for (const name of names) await repository.putWal(name, syntheticSegment(name, MiB));
    await repository.putWalSnapshot!(`${streamed}.stream`, syntheticSegment(streamed, MiB, 'a partial snapshot'));
  });
  after(async () => {
    await repository?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const get = (args: string[], asPostgres = false) => {
    const argv = [...datakeepCommandLine(), 'wal', 'get', ...args, '--repo', repoPath, '--passphrase-file', keyFile];
    const [command, ...rest] = asPostgres ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
    return spawnSync(command!, rest, { cwd: '/', encoding: 'utf8', timeout: 60_000 });
  };

  it('keeps the next complete segments spooled as they are taken, across the log id wrap; never the .stream snapshot; never a partial file', async () => {
    const data = join(scratch, 'data-1');
    const spool = walPrefetchSpool(data);
    mkdirSync(spool, { recursive: true });
    // What a prefetcher SIGKILLed mid-write leaves: a temporary, never served (restore_command moves only <spool>/%f).
    const leftover = join(spool, spoolTemporaryName(names[1]!, 999_999));
    writeFileSync(leftover, syntheticSegment(names[1]!, MiB).subarray(0, 4096));
    const served = get([names[0]!, join(scratch, 'out-0'), '--spool', spool, '--prefetch', '3']);
    assert.equal(served.status, 0, served.stderr);
    assert.deepEqual(readFileSync(join(scratch, 'out-0')), syntheticSegment(names[0]!, MiB));
    const spooled = (expected: string[]) => waitFor(`the spool holds ${expected.join(' ')}`, () => segmentsIn(spool).join(' ') === expected.join(' '), 30_000);
    await spooled(names.slice(1, 4));
    const pid = livePrefetcher(spool);
    assert.ok(pid, 'a prefetcher holds the spool');
    assert.equal(existsSync(leftover), false, 'the new prefetcher removed the dead one\'s temporary');
    // restore_command's fast path takes segments (a rename, as `mv` does): the queue refills with no `wal get`.
    const take = (name: string) => {
      assert.deepEqual(readFileSync(join(spool, name)), syntheticSegment(name, MiB), `${name} is the archived segment`);
      renameSync(join(spool, name), join(scratch, 'taken'));
    };
    take(names[1]!);
    take(names[2]!);
    await spooled(names.slice(3, 6));
    for (const name of names.slice(3, 6)) take(name);
    await spooled(names.slice(6));
    // It asks again for what is not archived (once a second): it must still never take the snapshot.
    await sleep(2500);
    assert.deepEqual(segmentsIn(spool), names.slice(6));
    assert.equal(readdirSync(spool).some((f) => f.includes(streamed)), false, 'the .stream snapshot is never spooled');
    assert.equal(livePrefetcher(spool), pid, 'one prefetcher did it all');

    // The snapshot is still served by wal get itself (the newest WAL there is), and moves nothing.
    const position = readFileSync(join(spool, SPOOL_FILES.want), 'utf8');
    const snapshot = get([streamed, join(scratch, 'out-stream'), '--spool', spool, '--prefetch', '8']);
    assert.equal(snapshot.status, 0, snapshot.stderr);
    assert.deepEqual(readFileSync(join(scratch, 'out-stream')), syntheticSegment(streamed, MiB, 'a partial snapshot'));
    assert.equal(readFileSync(join(spool, SPOOL_FILES.want), 'utf8'), position, 'serving a snapshot does not move the position');
    assert.equal(readdirSync(spool).some((f) => f.includes(streamed)), false);

    // Recovery over (recovery_end_command removes the spool): the prefetcher exits.
    rmSync(spool, { recursive: true, force: true });
    await waitFor('the prefetcher exited once its spool was removed', () => pidGone(pid), 10_000);
  });

  it('a repository the prefetcher cannot read stops it within seconds; the next wal get still serves and says why', async () => {
    const { uid, gid } = postgresIds();
    chownTree(repoPath);
    chownSync(keyFile, uid, gid);
    const data = join(scratch, 'data-2');
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, uid, gid);
    const spool = walPrefetchSpool(data);
    const served = get([names[2]!, join(data, 'out'), '--spool', spool, '--prefetch', '8'], true);
    assert.equal(served.status, 0, served.stderr);
    await waitFor('the segments after it spooled', () => segmentsIn(spool).length === 4, 30_000);
    const pid = livePrefetcher(spool)!;
    assert.ok(pid);
    // The archive's WAL directory becomes unreadable for the server's user: the next read (it retries the segment
    // not archived yet every second) fails.
    chmodSync(join(repoPath, 'wal'), 0o000);
    try {
      await waitFor('the prefetcher stopped', () => pidGone(pid), 15_000);
      assert.match(readFileSync(join(spool, SPOOL_FILES.error), 'utf8'), /EACCES|permission denied/i);
      assert.deepEqual(segmentsIn(spool), names.slice(3), 'what it had spooled stays servable');
    } finally {
      chmodSync(join(repoPath, 'wal'), 0o700);
    }
    const next = get([names[3]!, join(data, 'out-next'), '--spool', spool, '--prefetch', '8'], true);
    assert.equal(next.status, 0, next.stderr);
    assert.deepEqual(readFileSync(join(data, 'out-next')), syntheticSegment(names[3]!, MiB));
    assert.match(next.stderr, /the WAL prefetcher reported: it stopped: .*(EACCES|permission denied).*; prefetching goes on/i);
    const again = await waitFor('a new prefetcher', () => livePrefetcher(spool), 10_000);
    rmSync(spool, { recursive: true, force: true });
    await waitFor('it exited once its spool was removed', () => pidGone(again), 10_000);
  });

  it('a read that hangs (a FIFO in place of a segment) stops the prefetcher at its bound; wal get still serves', async () => {
    const data = join(scratch, 'data-3');
    mkdirSync(data);
    const spool = walPrefetchSpool(data);
    const object = join(repoPath, 'wal', names[5]!.slice(0, 16), names[5]!);
    renameSync(object, `${object}.aside`);
    assert.equal(spawnSync('mkfifo', [object]).status, 0);
    try {
      const served = spawnSync(datakeepCommandLine()[0]!, [...datakeepCommandLine().slice(1), 'wal', 'get', names[4]!, join(data, 'out'), '--spool', spool, '--prefetch', '2', '--repo', repoPath, '--passphrase-file', keyFile], {
        cwd: '/', encoding: 'utf8', timeout: 60_000, env: { ...process.env, DATAKEEP_WAL_PREFETCH_READ_TIMEOUT: '2' },
      });
      assert.equal(served.status, 0, served.stderr);
      const pid = await waitFor('a prefetcher', () => livePrefetcher(spool), 10_000);
      await waitFor('the prefetcher stopped at its read bound', () => pidGone(pid), 15_000);
      assert.match(readFileSync(join(spool, SPOOL_FILES.error), 'utf8'), new RegExp(`reading ${names[5]} from the repository took over 2 s`));
      assert.deepEqual(segmentsIn(spool), [names[6]], 'the segment read beside it was spooled; the hung one never');
    } finally {
      rmSync(object, { force: true });
      renameSync(`${object}.aside`, object);
    }
    const next = get([names[5]!, join(data, 'out-5'), '--spool', spool, '--prefetch', '2']);
    assert.equal(next.status, 0, next.stderr);
    assert.deepEqual(readFileSync(join(data, 'out-5')), syntheticSegment(names[5]!, MiB));
    assert.match(next.stderr, /the WAL prefetcher reported: it stopped: reading .* took over 2 s/);
    const again = await waitFor('a new prefetcher', () => livePrefetcher(spool), 10_000);
    rmSync(spool, { recursive: true, force: true });
    await waitFor('it exited once its spool was removed', () => pidGone(again), 10_000);
  });
});

describe('point-in-time restores replaying 12+ segments through the prefetching restore_command', () => {
  let env: ArchivingPostgres;
  // Three times the prefetch queue of 4: the queue is refilled several times (CI time: 24 batches cost 70 s more).
  const BATCHES = 14;
  const TARGET_BATCH = 12;
  let full: string;

  before(async () => {
    env = await startArchivingPostgres('wal-prefetch');
    await env.cluster.query('CREATE TABLE t (batch int NOT NULL, payload text)');
    full = (await backupPostgres({
      connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' },
      dataDirectory: env.cluster.dataDir, repository: env.repository, type: 'full', database: 'app',
    })).backupId;
    // One segment per batch: recovery to the restore point after batch 12 reads 12+ archived segments.
    for (let batch = 1; batch <= BATCHES; batch += 1) {
      await env.cluster.query(`INSERT INTO t SELECT ${batch}, repeat(md5(g::text), 8) FROM generate_series(1, 100) g`);
      if (batch === TARGET_BATCH) await env.cluster.query(`SELECT pg_create_restore_point('after-${TARGET_BATCH}')`);
      await env.switchAndArchive();
    }
  });
  after(async () => {
    await env?.destroy();
  });

  /** Restores to the restore point, started; `during` runs beside recovery until the restore returns. */
  async function restore(name: string, walPrefetch: number, during?: (spool: string, done: () => boolean) => Promise<void>) {
    const to = env.restoreDir(name);
    const port = await env.freePort();
    let finished = false;
    const watching = during?.(walPrefetchSpool(to), () => finished);
    try {
      const result = await restorePostgres({
        repository: env.repository, backupId: full, to, target: { name: `after-${TARGET_BATCH}` }, walPrefetch,
        restoreCommand: ({ prefetch }) => walGetCommand(env.repositoryPath, env.passphraseFile, prefetch),
        start: { port }, verifyWal: false,
      });
      const rows = await env.queryRestored<{ batch: number; n: number }>(port, 'SELECT batch, count(*)::int AS n FROM t GROUP BY batch ORDER BY batch');
      return { to, result, rows: rows.map((r) => `${r.batch}:${r.n}`) };
    } finally {
      finished = true;
      await watching;
      await env.stopRestored(to);
    }
  }

  const expected = Array.from({ length: TARGET_BATCH }, (_, i) => `${i + 1}:100`);

  it('prefetching on gives exactly the rows of prefetching off; the spool was used and is gone after recovery', async () => {
    const seen = new Set<string>();
    const on = await restore('prefetch-on', 4, async (spool, done) => {
      while (!done()) {
        for (const name of segmentsIn(spool)) seen.add(name);
        await sleep(20);
      }
    });
    assert.deepEqual(on.rows, expected);
    assert.ok(on.result.recoverySettings.some((l) => l.startsWith('restore_command') && l.includes('mv -f') && l.includes('--prefetch 4')), on.result.recoverySettings.join('\n'));
    assert.ok(on.result.recoverySettings.some((l) => l.startsWith('recovery_end_command') && l.includes('rm -rf')), on.result.recoverySettings.join('\n'));
    assert.ok(seen.size >= 3, `segments waited in the spool while recovery ran (saw ${[...seen].join(' ') || 'none'})`);
    for (const name of seen) assert.ok(name.startsWith('00000001'), name);
    assert.equal(existsSync(walPrefetchSpool(on.to)), false, 'the spool is removed when recovery ends');

    const off = await restore('prefetch-off', 0);
    assert.deepEqual(off.rows, expected);
    assert.ok(off.result.recoverySettings.every((l) => !l.includes('--spool') && !l.includes('mv -f')), off.result.recoverySettings.join('\n'));
  });

  it('recovery completes with the right rows when the prefetcher is SIGKILLed while it runs', async () => {
    const killed: number[] = [];
    const run = await restore('prefetch-killed', 8, async (spool, done) => {
      // Kill each prefetcher as soon as it holds the spool, preferably while it writes a segment, three times.
      while (!done() && killed.length < 3) {
        const writing = existsSync(spool) && readdirSync(spool).some((f) => f.endsWith('.tmp') && !f.startsWith(`.${SPOOL_FILES.lock}`));
        const pid = livePrefetcher(spool);
        if (pid !== undefined && !killed.includes(pid) && (writing || killed.length > 0 || segmentsIn(spool).length > 0)) {
          process.kill(pid, 'SIGKILL');
          killed.push(pid);
        }
        await sleep(5);
      }
    });
    assert.ok(killed.length >= 1, 'a prefetcher was killed');
    assert.deepEqual(run.rows, expected);
    assert.equal(existsSync(walPrefetchSpool(run.to)), false);
  });
});
