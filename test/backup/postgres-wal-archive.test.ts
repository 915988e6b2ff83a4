import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initRepository, openRepository, type BackupRepository } from '../../src/repository/index.js';
import { WAL_EXIT, walCheck, walGet, walPush } from '../../src/engines/postgres/backup/index.js';
import { runWalCommand } from '../../src/cli/run-wal-command.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'dk-walarchive-'));
const repoPath = join(scratch, 'repo');
const passphrase = 'wal archive test passphrase';
const keyFile = join(scratch, 'key');
const walDir = join(scratch, 'pg_wal');
let repository: BackupRepository;

function segment(name: string, content: Buffer): string {
  const path = join(walDir, name);
  writeFileSync(path, content);
  return path;
}

const SEGMENT = 16 * 1024 * 1024;

/** A segment with PostgreSQL 15's long page header for `name` and a random body (wal push checks the header). */
function walContent(name: string): Buffer {
  const content = randomBytes(SEGMENT);
  const segno = BigInt(`0x${name.slice(8, 16)}`) * 256n + BigInt(`0x${name.slice(16, 24)}`);
  content.writeUInt16LE(0xd110, 0);
  content.writeUInt16LE(0x0002, 2);
  content.writeUInt32LE(Number.parseInt(name.slice(0, 8), 16), 4);
  content.writeBigUInt64LE(segno * BigInt(SEGMENT), 8);
  content.writeUInt32LE(0, 16);
  content.writeBigUInt64LE(7n, 24);
  content.writeUInt32LE(SEGMENT, 32);
  content.writeUInt32LE(8192, 36);
  return content;
}

function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void; env: NodeJS.ProcessEnv }; text: () => string } {
  let text = '';
  return { io: { stdout: (t) => (text += t), stderr: (t) => (text += t), env: {} }, text: () => text };
}

/** The entry PostgreSQL would run, as a real process: its exit status is what the server acts on. */
function runProcess(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = datakeepCommandLine();
    const child = spawn(command!, [...prefix, 'wal', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

before(async () => {
  mkdirSync(walDir, { recursive: true });
  writeFileSync(keyFile, `${passphrase}\n`, { mode: 0o600 });
  await (await initRepository(repoPath, { passphrase })).close();
  repository = await openRepository(repoPath, { passphrase });
});
after(async () => {
  await repository?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('WAL archive', () => {
  it('accepts the same segment twice and refuses different content under the same name, keeping the original', async () => {
    const first = walContent('000000010000000000000001');
    const path = segment('000000010000000000000001', first);
    assert.equal(await walPush(repository, path), 'stored');
    assert.equal(await walPush(repository, path), 'already-present');
    const other = segment('000000010000000000000001', walContent('000000010000000000000001'));
    await assert.rejects(walPush(repository, other), (error: Error & { reason?: string }) => {
      assert.equal(error.reason, 'wal-conflict', error.message);
      return true;
    });
    assert.deepEqual(await repository.getWal('000000010000000000000001'), first);
  });

  it('wal get writes the segment, and reports a missing one with exit 1 (the end of the archive for PostgreSQL)', async () => {
    const content = randomBytes(100_000);
    await repository.putWal('000000010000000000000002', content);
    const dest = join(scratch, 'RECOVERYXLOG');
    assert.equal(await walGet(repository, '000000010000000000000002', dest), true);
    assert.deepEqual(readFileSync(dest), content);
    assert.equal(await walGet(repository, '0000000100000000000000FF', join(scratch, 'missing')), false);

    const out = capture();
    assert.equal(await runWalCommand(['get', '0000000100000000000000FF', join(scratch, 'x'), '--repo', repoPath, '--passphrase-file', keyFile], out.io), WAL_EXIT.notFound);
    assert.equal(WAL_EXIT.notFound, 1);
  });

  it('the command exits 0 for a repeated push, non-zero with the reason for a conflicting one', async () => {
    const path = segment('000000010000000000000003', walContent('000000010000000000000003'));
    const args = ['--repo', repoPath, '--passphrase-file', keyFile];
    assert.equal(await runWalCommand(['push', path, ...args], capture().io), 0);
    assert.equal(await runWalCommand(['push', path, ...args], capture().io), 0);
    writeFileSync(path, walContent('000000010000000000000003'));
    const out = capture();
    assert.equal(await runWalCommand(['push', path, ...args], out.io), WAL_EXIT.failed);
    assert.match(out.text(), /000000010000000000000003/);
    const notWal = join(scratch, 'notes.txt');
    writeFileSync(notWal, 'x');
    assert.equal(await runWalCommand(['push', notWal, ...args], capture().io), WAL_EXIT.failed);
  });

  it('as a process: a missing segment exits 1, a wrong passphrase exits above 125 so recovery stops instead of promoting early', async () => {
    const missing = await runProcess(['get', '0000000100000000000000FE', join(scratch, 'y'), '--repo', repoPath, '--passphrase-file', keyFile]);
    assert.equal(missing.code, 1, missing.stderr);
    const wrongKey = join(scratch, 'wrong-key');
    writeFileSync(wrongKey, 'not the passphrase\n');
    const wrong = await runProcess(['get', '000000010000000000000002', join(scratch, 'z'), '--repo', repoPath, '--passphrase-file', wrongKey]);
    assert.ok(wrong.code !== null && wrong.code > 125, `exit ${String(wrong.code)}: ${wrong.stderr}`);
    assert.match(wrong.stderr, /passphrase/i);
    const noRepo = await runProcess(['push', 'pg_wal/000000010000000000000009']);
    assert.notEqual(noRepo.code, 0);
    assert.match(noRepo.stderr, /--repo/);
  });

  it('wal check names the first missing segment, and follows a timeline switch', async () => {
    const repoB = join(scratch, 'repo-b');
    const b = await initRepository(repoB, { passphrase });
    for (const n of ['01', '02', '04']) await b.putWal(`0000000100000000000000${n}`, Buffer.from(n));
    let report = await walCheck(b, { from: '000000010000000000000001' });
    assert.equal(report.ok, false);
    assert.equal(report.firstMissing, '000000010000000000000003');
    assert.equal(report.segmentsChecked, 4);
    await b.putWal('000000010000000000000003', Buffer.from('03'));
    assert.equal((await walCheck(b, { from: '0/1000000' })).ok, true);

    // Timeline 2 branched at 0/5000000: segment 5 onwards come from timeline 2.
    await b.putWal('00000002.history', Buffer.from('1\t0/5000000\tno recovery target specified\n'));
    await b.putWal('000000010000000000000005', Buffer.from('old timeline, partial'));
    await b.putWal('000000020000000000000006', Buffer.from('06'));
    report = await walCheck(b, { from: '000000010000000000000001' });
    assert.equal(report.timeline, 2);
    assert.equal(report.firstMissing, '000000020000000000000005');
    await b.putWal('000000020000000000000005', Buffer.from('05'));
    report = await walCheck(b, { from: '000000010000000000000001' });
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.to, '000000020000000000000006');
    await b.close();
  });
});
