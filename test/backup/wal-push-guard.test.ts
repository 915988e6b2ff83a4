import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initRepository, type BackupRepository } from '../../src/repository/index.js';
import { walPush } from '../../src/engines/postgres/backup/index.js';
import { runWalCommand } from '../../src/cli/run-wal-command.js';
import { checkWalSegmentFile, readWalLongPageHeader, WAL_PAGE_MAGIC } from '../../src/engines/postgres/backup/wal-segment-header.js';
import { formatLsn, parseSegmentName, segmentName } from '../../src/engines/postgres/backup/wal-position.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

const SEGMENT_SIZE = 16 * 1024 * 1024;
const passphrase = 'wal push guard test passphrase';
const scratch = mkdtempSync(join(tmpdir(), 'dk-walguard-'));
const cluster = new ThrowawayPostgres({ name: 'walguard', config: ['wal_level = replica'] });
const repositories: BackupRepository[] = [];

/** What the server's own archiver handed to archive_command, by name. */
const archived = new Map<string, Buffer>();
let systemIdentifier = '';
/** Finished timeline 1 segments, oldest first. */
const timeline1: string[] = [];
/** The first timeline 2 segment (its first page still carries timeline 1) and a later one (timeline 2 throughout). */
let timeline2First = '';
let timeline2Later = '';
let partialName = '';

async function waitForArchived(dir: string, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(dir, name))) {
    if (Date.now() > deadline) throw new Error(`${name} not archived after 60 s\n${cluster.logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function switchWal(dir: string): Promise<string> {
  await cluster.query('INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g');
  const [row] = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()');
  await waitForArchived(dir, row!.name);
  return row!.name;
}

let fileCount = 0;
/** Writes `content` under `name` in a directory of its own: walPush takes the name from the path. */
function walFile(name: string, content: Buffer): string {
  fileCount += 1;
  const dir = join(scratch, `files-${fileCount}`);
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function real(name: string): string {
  return walFile(name, archived.get(name)!);
}

let repositoryCount = 0;
async function newRepository(): Promise<{ repository: BackupRepository; dir: string }> {
  repositoryCount += 1;
  const dir = join(scratch, `repo-${repositoryCount}`);
  const repository = await initRepository(dir, { passphrase, workers: 1 });
  repositories.push(repository);
  return { repository, dir };
}

async function withTimeline1(): Promise<{ repository: BackupRepository; dir: string }> {
  const made = await newRepository();
  for (const name of timeline1) assert.equal(await walPush(made.repository, real(name)), 'stored');
  return made;
}

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await runWalCommand(args, { env: { DATAKEEP_REPO_PASSPHRASE: passphrase }, stdout: () => undefined, stderr: (text) => (stderr += text) });
  return { code, stderr };
}

function rejectsWith(reason: string, ...patterns: (string | RegExp)[]): (error: Error & { reason?: string }) => boolean {
  return (error) => {
    assert.equal(error.reason, reason, error.message);
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), `${JSON.stringify(pattern)} not in: ${error.message}`);
      else assert.match(error.message, pattern);
    }
    return true;
  };
}

function startOf(name: string): bigint {
  return parseSegmentName(name.slice(0, 24), SEGMENT_SIZE)!.segment * BigInt(SEGMENT_SIZE);
}

/** The same WAL under another timeline's name: its header stays valid, since a first page may carry a parent's ID. */
function onTimeline(name: string, timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0') + name.slice(8);
}

before(async () => {
  await cluster.init();
  const archiveDir = cluster.ownedDir('archive');
  // The server's own archiver picks the files: only finished segments, the .partial and the .history at promotion.
  cluster.appendConfig(['archive_mode = on', `archive_command = 'cp %p ${archiveDir}/%f'`]);
  await cluster.start();
  systemIdentifier = (await cluster.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!.id;
  await cluster.query('CREATE TABLE t (id int, v text)');
  for (let i = 0; i < 3; i += 1) timeline1.push(await switchWal(archiveDir));

  // Promotion after archive recovery (a restored cluster): recovery ends where local WAL ends, on a new timeline.
  await cluster.stop();
  writeFileSync(join(cluster.dataDir, 'recovery.signal'), '');
  cluster.appendConfig(["restore_command = 'false'"]);
  await cluster.start();
  const deadline = Date.now() + 30_000;
  while ((await cluster.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r) {
    if (Date.now() > deadline) throw new Error(`not promoted after 30 s\n${cluster.logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await waitForArchived(archiveDir, '00000002.history');
  timeline2First = await switchWal(archiveDir);
  timeline2Later = await switchWal(archiveDir);
  partialName = `${timeline2First.replace(/^00000002/, '00000001')}.partial`;
  await waitForArchived(archiveDir, partialName);
  for (const name of readdirSync(archiveDir)) archived.set(name, readFileSync(join(archiveDir, name)));
  await cluster.destroy();
});

after(async () => {
  for (const repository of repositories) await repository.close();
  await cluster.destroy();
  rmSync(scratch, { recursive: true, force: true });
});

describe('wal push: only whole, valid segments', () => {
  it('stores a real segment, reading its size, system identifier and timeline from its header', async () => {
    const name = timeline1[0]!;
    const content = archived.get(name)!;
    // The magic table must hold what this server (PostgreSQL 15) really writes.
    assert.equal(content.readUInt16LE(0), 0xd110);
    assert.equal(WAL_PAGE_MAGIC.get(0xd110), 15);
    const info = checkWalSegmentFile(name, content);
    assert.deepEqual(info, { segmentSize: SEGMENT_SIZE, systemIdentifier, timeline: 1, startLsn: startOf(name) });

    const { repository } = await newRepository();
    assert.equal(await walPush(repository, real(name)), 'stored');
    assert.equal(await walPush(repository, real(name)), 'already-present');
    assert.deepEqual(await repository.getWal(name), content);
  });

  it('refuses a truncated copy, and the command exits 1 saying why', async () => {
    const name = timeline1[1]!;
    const { repository, dir } = await newRepository();
    const path = walFile(name, archived.get(name)!.subarray(0, 8388608));
    const message = 'is 8388608 bytes, but its header says a segment is 16777216 bytes: a truncated or partial copy';
    await assert.rejects(walPush(repository, path), rejectsWith('wal-invalid', name, message, /archive_command passes %p/));
    assert.equal(await repository.getWal(name), undefined);

    const { code, stderr } = await cli(['push', path, '--repo', dir]);
    assert.equal(code, 1, stderr);
    assert.ok(stderr.includes(name) && stderr.includes(message), stderr);
    assert.equal(await repository.getWal(name), undefined);

    await assert.rejects(walPush(repository, walFile(name, Buffer.alloc(20))), rejectsWith('wal-invalid', 'is 20 bytes, too short'));
  });

  it('refuses a real segment renamed to another segment number', async () => {
    const source = timeline1[0]!;
    const renamed = segmentName(1, parseSegmentName(source, SEGMENT_SIZE)!.segment + 5n, SEGMENT_SIZE);
    const { repository } = await newRepository();
    await assert.rejects(walPush(repository, walFile(renamed, archived.get(source)!)),
      rejectsWith('wal-invalid', renamed, `named for the segment starting at ${formatLsn(startOf(renamed))}, but its header says it starts at ${formatLsn(startOf(source))}`));
    assert.equal(await repository.getWal(renamed), undefined);
  });

  it('refuses a segment renamed to an older timeline, but not the first segment of a new one (its first page is the parent\'s)', async () => {
    assert.equal(readWalLongPageHeader(archived.get(timeline2Later)!)!.pageTimeline, 2);
    const renamed = onTimeline(timeline2Later, 1);
    const { repository } = await newRepository();
    await assert.rejects(walPush(repository, walFile(renamed, archived.get(timeline2Later)!)),
      rejectsWith('wal-invalid', renamed, 'is named for timeline 1, but its first page is on timeline 2'));
    assert.equal(await repository.getWal(renamed), undefined);

    // PostgreSQL copies the parent's segment up to the switch point into the new timeline's first file.
    assert.equal(readWalLongPageHeader(archived.get(timeline2First)!)!.pageTimeline, 1);
    assert.equal(checkWalSegmentFile(timeline2First, archived.get(timeline2First)!).timeline, 2);
  });

  it('refuses a file that is not WAL (a zero-filled, pre-allocated segment), and never checks a .partial or .history header', async () => {
    const name = segmentName(1, 40n, SEGMENT_SIZE);
    const { repository } = await newRepository();
    await assert.rejects(walPush(repository, walFile(name, Buffer.alloc(SEGMENT_SIZE))), rejectsWith('wal-invalid', name, 'known WAL page magic (found 0x0000'));
    assert.equal(await repository.getWal(name), undefined);
    assert.equal(await walPush(repository, real(partialName)), 'stored');
    assert.equal(await walPush(repository, real('00000002.history')), 'stored');
  });
});

describe('wal push: only timelines the archive expects', () => {
  it('an empty archive accepts any timeline', async () => {
    const { repository } = await newRepository();
    assert.equal(await walPush(repository, real(timeline2Later)), 'stored');
  });

  it('refuses a segment of an unknown timeline until its .history arrives; a .history branching at the end is accepted, twice', async () => {
    const { repository, dir } = await withTimeline1();
    await assert.rejects(walPush(repository, real(timeline2First)), rejectsWith('wal-timeline', timeline2First, 'timeline 2', 'no 00000002.history', 'restored or cloned cluster'));
    assert.equal(await repository.getWal(timeline2First), undefined);
    const refused = await cli(['push', real(timeline2First), '--repo', dir]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.ok(refused.stderr.includes(timeline2First) && refused.stderr.includes('restored or cloned cluster'), refused.stderr);

    // The real promotion branched in the segment after the last archived one: what a promoted replica looks like.
    assert.equal(await walPush(repository, real('00000002.history')), 'stored');
    assert.equal(await walPush(repository, real('00000002.history')), 'already-present');
    const again = await cli(['push', real('00000002.history'), '--repo', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already archived/);
    assert.equal(await walPush(repository, real(partialName)), 'stored');
    assert.equal(await walPush(repository, real(timeline2First)), 'stored');
    assert.equal(await walPush(repository, real(timeline2Later)), 'stored');
  });

  it('refuses a .history branching in the past (a restored cluster), and accepts it once told to', async () => {
    const { repository, dir } = await withTimeline1();
    const newest = timeline1.at(-1)!;
    const pastBranch = formatLsn(startOf(timeline1[0]!) + 0x60n);
    const history = Buffer.from(`1\t${pastBranch}\tno recovery target specified\n`);
    const path = walFile('00000003.history', history);
    await assert.rejects(walPush(repository, path), rejectsWith('wal-timeline', '00000003.history', `at ${pastBranch}, before the end of timeline 1's archived WAL (${newest} starts at ${formatLsn(startOf(newest))})`,
      "restored or cloned cluster archiving into its source's repository", 'point its archive_command at a repository of its own (or set archive_mode = off)', '--accept-new-timeline'));
    assert.equal(await repository.getWal('00000003.history'), undefined);
    const refused = await cli(['push', path, '--repo', dir]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.ok(refused.stderr.includes('restored or cloned cluster') && refused.stderr.includes('--accept-new-timeline'), refused.stderr);
    // Its segments stay out with it.
    const segment3 = onTimeline(timeline1[0]!, 3);
    await assert.rejects(walPush(repository, walFile(segment3, archived.get(timeline1[0]!)!)), rejectsWith('wal-timeline', 'timeline 3'));

    assert.equal(await walPush(repository, path, { acceptNewTimeline: true }), 'stored');
    assert.deepEqual(await repository.getWal('00000003.history'), history);
    // The archiver's own retry, without the flag, must not be refused now.
    assert.equal(await walPush(repository, path), 'already-present');
    assert.equal(await walPush(repository, walFile(segment3, archived.get(timeline1[0]!)!)), 'stored');

    const other = walFile('00000004.history', Buffer.from(`1\t${pastBranch}\tbefore 2024-01-01 00:00:00+00\n`));
    assert.equal((await cli(['push', other, '--repo', dir])).code, 1);
    const accepted = await cli(['push', other, '--accept-new-timeline', '--repo', dir]);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.ok(await repository.getWal('00000004.history'));
  });

  it('refuses a .history whose parent the archive does not know, and one PostgreSQL could not have written', async () => {
    const { repository } = await withTimeline1();
    const unknownParent = walFile('00000009.history', Buffer.from('1\t0/3000000\tno recovery target specified\n\n5\t0/9000000\tno recovery target specified\n'));
    await assert.rejects(walPush(repository, unknownParent, { acceptNewTimeline: true }), rejectsWith('wal-timeline', 'branches from timeline 5'));
    await assert.rejects(walPush(repository, walFile('00000006.history', Buffer.from('garbage\n'))), rejectsWith('wal-invalid', '00000006.history'));
    await assert.rejects(walPush(repository, walFile('00000006.history', Buffer.from('7\t0/3000000\tno recovery target specified\n'))), rejectsWith('wal-invalid', 'parent timeline below 6'));
    await assert.rejects(walPush(repository, walFile('00000006.history', Buffer.alloc(0))), rejectsWith('wal-invalid', 'no timeline history entry'));
  });

  it('knows a timeline a completed backup was taken on', async () => {
    const { repository } = await withTimeline1();
    const segment5 = onTimeline(timeline1[1]!, 5);
    await assert.rejects(walPush(repository, walFile(segment5, archived.get(timeline1[1]!)!)), rejectsWith('wal-timeline', 'timeline 5'));
    const writer = await repository.beginBackup({ type: 'full', database: 'postgres' });
    writer.setMetadata({ timeline: 5, walSegmentSize: SEGMENT_SIZE });
    await writer.complete();
    assert.equal(await walPush(repository, walFile(segment5, archived.get(timeline1[1]!)!)), 'stored');
  });
});
