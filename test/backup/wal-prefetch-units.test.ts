// Restore-side WAL prefetching without a server: the segment arithmetic the prefetcher walks by (every segment size
// PostgreSQL allows, across log id wraps), the spool's names and pruning, the lock probe, and restore_command's
// quoting (its shell fast path run through /bin/sh with paths holding spaces, quotes and a percent sign).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { followingSegments } from '../../src/engines/postgres/backup/wal-position.js';
import {
  isSpoolableSegment, livePrefetcher, pruneSpool, readPosition, removeTemporaries, spoolTemporaryName, spoolWindow, SPOOL_FILES,
  walPrefetchSpool, WAL_PREFETCH_SPOOL, writePosition,
} from '../../src/engines/postgres/backup/wal-prefetch-spool.js';
import { walGetCommand } from '../../src/engines/postgres/backup/wal-commands-for-server.js';
import { substituteRestoreCommand } from '../support/wal-segments.js';

const MiB = 1024 * 1024;
const scratch = mkdtempSync(join(tmpdir(), 'dk-prefetch-units-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('following segments (the prefetcher\'s arithmetic)', () => {
  it('16 MiB: 256 segments per log id, then the next log id', () => {
    assert.deepEqual(followingSegments('000000010000000000000003', 16 * MiB, 2), ['000000010000000000000004', '000000010000000000000005']);
    assert.deepEqual(followingSegments('0000000200000000000000FE', 16 * MiB, 3), ['0000000200000000000000FF', '000000020000000100000000', '000000020000000100000001']);
    assert.deepEqual(followingSegments('00000001000000AB000000FF', 16 * MiB, 1), ['00000001000000AC00000000']);
  });

  it('1 MiB: 4096 per log id; 1 GiB: 4 per log id', () => {
    assert.deepEqual(followingSegments('000000010000000000000FFF', MiB, 2), ['000000010000000100000000', '000000010000000100000001']);
    assert.deepEqual(followingSegments('0000000100000000000000FF', MiB, 1), ['000000010000000000000100'], 'no wrap at 0xFF with 1 MiB segments');
    assert.deepEqual(followingSegments('000000030000000500000002', 1024 * MiB, 3), ['000000030000000500000003', '000000030000000600000000', '000000030000000600000001']);
  });

  it('stays on the timeline of the name', () => {
    for (const name of followingSegments('00000007000000000000003F', 64 * MiB, 5)!) assert.equal(name.slice(0, 8), '00000007');
  });

  it('refuses sizes PostgreSQL never uses, non-segment names, and numbers a size never produces', () => {
    for (const size of [0, 512 * 1024, 3 * MiB, 2048 * MiB, 16 * MiB + 1]) assert.equal(followingSegments('000000010000000000000003', size, 2), undefined, String(size));
    for (const name of ['00000002.history', '000000010000000000000003.partial', '000000010000000000000003.stream', '000000010000000000000003.00000028.backup']) {
      assert.equal(followingSegments(name, 16 * MiB, 2), undefined, name);
    }
    // With 1 GiB segments a log id holds segments 0-3 only; with 16 MiB, 0x00-0xFF.
    assert.equal(followingSegments('000000010000000000000004', 1024 * MiB, 1), undefined);
    assert.equal(followingSegments('000000010000000000000100', 16 * MiB, 1), undefined);
    assert.deepEqual(followingSegments('000000010000000000000003', 16 * MiB, 0), []);
  });
});

describe('the spool', () => {
  it('lives in the data directory under a name PostgreSQL ignores; holds complete segments only', () => {
    assert.equal(walPrefetchSpool('/var/lib/pg/r 1'), `/var/lib/pg/r 1/${WAL_PREFETCH_SPOOL}`);
    assert.equal(isSpoolableSegment('000000010000000000000003'), true);
    for (const name of ['00000002.history', '000000010000000000000003.partial', '000000010000000000000003.stream', '000000010000000000000003.00000028.backup',
      spoolTemporaryName('000000010000000000000003', 42), SPOOL_FILES.want, SPOOL_FILES.lock, SPOOL_FILES.error]) {
      assert.equal(isSpoolableSegment(name), false, name);
    }
  });

  it('keeps the window after the position and drops other timelines, replayed segments and temporaries of the dead', async () => {
    const spool = join(scratch, 'prune');
    mkdirSync(spool);
    const position = { name: '0000000200000000000000FE', segmentSize: 16 * MiB };
    await writePosition(spool, position);
    const read = await readPosition(spool);
    assert.deepEqual({ name: read?.name, segmentSize: read?.segmentSize }, position);
    await writePosition(spool, position);
    assert.notEqual((await readPosition(spool))?.stamp, read?.stamp, 'each write is news, even of the same segment');
    const window = spoolWindow(position, 3);
    assert.deepEqual(window, ['0000000200000000000000FF', '000000020000000100000000', '000000020000000100000001']);
    const files = ['0000000200000000000000FD', '0000000200000000000000FE', '0000000200000000000000FF', '000000020000000100000001',
      '000000020000000100000002', '0000000100000000000000FF', spoolTemporaryName('000000020000000100000000', 999999)];
    for (const f of files) writeFileSync(join(spool, f), f);
    const kept = await pruneSpool(spool, new Set(window));
    assert.deepEqual([...kept].sort(), ['0000000200000000000000FF', '000000020000000100000001']);
    assert.ok(existsSync(join(spool, spoolTemporaryName('000000020000000100000000', 999999))), 'pruning leaves a writer\'s temporary alone');
    await removeTemporaries(spool);
    assert.deepEqual(readdirSync(spool).sort(), ['0000000200000000000000FF', '000000020000000100000001', SPOOL_FILES.want].sort());
  });

  it('a position this code did not write is no position', async () => {
    const spool = join(scratch, 'bad-position');
    mkdirSync(spool);
    for (const text of ['', 'garbage\n', '000000010000000000000003 3000000 1-2\n', '00000002.history 16777216 1-2\n', '000000010000000000000003 16777216\n']) {
      writeFileSync(join(spool, SPOOL_FILES.want), text);
      assert.equal(await readPosition(spool), undefined, JSON.stringify(text));
    }
  });

  it('the lock names a live prefetcher only: not a dead pid, not a live process that is not a prefetcher', async () => {
    const spool = join(scratch, 'lock');
    mkdirSync(spool);
    assert.equal(livePrefetcher(spool), undefined);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(spool, SPOOL_FILES.lock), `${dead.stdout}\n`);
    assert.equal(livePrefetcher(spool), undefined, 'a dead pid');
    writeFileSync(join(spool, SPOOL_FILES.lock), `${process.pid}\n`);
    assert.equal(livePrefetcher(spool), undefined, 'this test process is alive but not a prefetcher');
    const lookalike = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'wal', 'prefetch'], { stdio: 'ignore' });
    try {
      writeFileSync(join(spool, SPOOL_FILES.lock), `${lookalike.pid}\n`);
      assert.equal(livePrefetcher(spool), lookalike.pid);
    } finally {
      lookalike.kill('SIGKILL');
    }
  });
});

describe('restore_command with prefetching', () => {
  const awkward = join(scratch, "data dir with 'quotes' and 100% spaces");
  const spool = walPrefetchSpool(awkward);
  const command = walGetCommand(join(scratch, "repo 'x'"), join(scratch, 'pass "file"'), { spool, queue: 8 });

  it('moves a spooled segment into place with the shell alone, under the name asked for only', () => {
    mkdirSync(join(awkward, 'pg_wal'), { recursive: true });
    mkdirSync(spool);
    writeFileSync(join(spool, '000000010000000000000005'), 'segment 5');
    writeFileSync(join(spool, '000000010000000000000006'), 'segment 6');
    // PostgreSQL runs it with the data directory as working directory and %p relative to it.
    const run = (name: string) => spawnSync('/bin/sh', ['-c', substituteRestoreCommand(command, name, 'pg_wal/RECOVERYXLOG')], { cwd: awkward, encoding: 'utf8', timeout: 60_000 });
    const hit = run('000000010000000000000005');
    assert.equal(hit.status, 0, hit.stderr);
    assert.equal(readFileSync(join(awkward, 'pg_wal', 'RECOVERYXLOG'), 'utf8'), 'segment 5');
    assert.equal(existsSync(join(spool, '000000010000000000000005')), false, 'moved, not copied');
    assert.equal(readFileSync(join(spool, '000000010000000000000006'), 'utf8'), 'segment 6', 'the next one stays');
    // A miss runs `wal get`, here against a repository that does not exist: PostgreSQL's "failure" (255), not "not in
    // the archive" (1) and not the neighbour's file.
    rmSync(join(awkward, 'pg_wal', 'RECOVERYXLOG'));
    writeFileSync(join(scratch, 'pass "file"'), 'a passphrase\n', { mode: 0o600 });
    const miss = run('000000010000000000000007');
    assert.equal(miss.status, 255, `${miss.stdout}\n${miss.stderr}`);
    assert.match(miss.stderr, /repo 'x'/, 'the repository path reached datakeep whole');
    assert.equal(existsSync(join(awkward, 'pg_wal', 'RECOVERYXLOG')), false);
  });

  it('doubles every % of a path (PostgreSQL expands %f, %p, %r and %% anywhere in the command)', () => {
    assert.match(command, /100%% spaces/);
    assert.doesNotMatch(command.replace(/%%/g, ''), /%[^fp]/);
    const off = walGetCommand('/r', undefined, { spool: '/s', queue: 0 });
    assert.doesNotMatch(off, /^if|--spool|--prefetch/, 'queue 0: the plain command');
    assert.equal(off, walGetCommand('/r', undefined));
  });
});
