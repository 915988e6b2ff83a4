import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RestoreProgress } from '../../../backup/backup-types.js';
import { chownTree } from '../../../backup/repository-set.js';
import { UsageError } from '../../../errors/index.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { freePort } from '../../../util/free-port.js';
import type { BinlogPiece } from './binlog-pieces.js';
import { binlogSeqOf, consistentAt, lastEventTime, mariadbBackups, runFrom } from './binlog-window.js';
import { MariadbBackupError } from './mariadb-backup-error.js';
import { assertReachableBy } from '../../postgres/backup/server-os-user.js';
import { mariadbOsUser, startRestoredServer, type RestoredServer } from './restored-server.js';
import { startTool } from './run-tool.js';
import { STREAM_FILE, streamFiles } from './store-stream.js';

const TOOL_TIMEOUT_MS = 6 * 3600_000;

export interface MariadbRestoreOptions {
  readonly repository: Repository;
  readonly database: string;
  /** The backup to restore (default: the newest one consistent before `target`, or the newest). */
  readonly backupId: string | undefined;
  /** A new or empty directory: it becomes the restored server's data directory. */
  readonly to: string;
  /** Replay the binlog up to this instant (to the second); default: to the end of the unbroken archive. */
  readonly target: Date | undefined;
  /** Include the events stamped in the target's own second (default true); false stops at the second's start. */
  readonly inclusive?: boolean;
  /** Leave the restored server running on this port (else it is stopped after the replay). */
  readonly start: { port: number } | undefined;
  readonly keepFailed?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RestoreProgress) => void;
}

export interface MariadbRestoreResult {
  readonly backupId: string;
  readonly chain: readonly string[];
  readonly to: string;
  readonly target: string | undefined;
  readonly stopDatetime: string | undefined;
  readonly binlogPieces: number;
  readonly started: boolean;
  readonly note: string | undefined;
}

/**
 * Restores a physical backup and rolls it forward: the chain's mbstreams are extracted (the full into `to`, each
 * incremental into a scratch directory beside it), prepared in order with mariadb-backup --prepare, then a mariadbd is
 * started on `to` and the archived binlog from the backup's position is replayed through mariadb-binlog (with
 * --stop-datetime for a target) into the mariadb client. Everything that can be refused is refused before writing.
 */
export async function restoreMariadb(options: MariadbRestoreOptions): Promise<MariadbRestoreResult> {
  const { repository, database } = options;
  const to = resolve(options.to);
  const backups = mariadbBackups(await repository.list(), database);
  const base = chooseBase(backups, options.backupId, options.target);
  const chain = [...(await repository.manifest(base.backupId)).chain, base.backupId];
  const run = await runFrom(repository, base);
  const position = typeof base.metadata.binlogPosition === 'number' ? base.metadata.binlogPosition : 4;
  const baseSeq = binlogSeqOf(base);
  let stopDatetime: string | undefined;
  if (options.target) {
    const targetSecond = Math.floor(options.target.getTime() / 1000);
    const last = run && baseSeq !== undefined ? await lastEventTime(repository, run.pieces, { seq: baseSeq, position }) : undefined;
    // An inclusive target replays all of T's second, which the archive holds only when an event of a later second is
    // archived: an archive cut within T's second (archived at 12:00:05.3, target 12:00:05.1) would return part of it,
    // and a restore to the same target after the next archive run would return more.
    const inclusive = options.inclusive !== false;
    if (last === undefined || targetSecond > last || (inclusive && targetSecond === last)) {
      const end = last === undefined ? 'no transaction archived after the backup' : `the last archived transaction is at ${new Date(last * 1000).toISOString()}${targetSecond === last ? ' (in the target\'s own second, which may not be archived whole; give targetInclusive: false, or archive a later transaction)' : ''}`;
      throw new MariadbBackupError('target-unreachable', `target ${options.target.toISOString()} lies after the end of the binlog archive of ${database} (${end}${run?.gap ? `; the archive stops before ${run.gap.missing}` : ''}); nothing was restored; archive the binlog (take a backup) or choose an earlier target`);
    }
    stopDatetime = formatUtcSecond(targetSecond + (options.inclusive === false ? 0 : 1));
  }
  await assertEmptyDestination(to);
  const user = mariadbOsUser();
  // As root the restored server runs as mysql, which must enter every directory above `to`: refused now, not after
  // the extract and prepare with a server that cannot start (its error log would be unwritable too).
  if (user) await assertReachableBy(user, to, `restore of ${database}`, (message) => new MariadbBackupError('unsafe-destination', message), 'under /var/lib/mysql, or a directory of mode 0755');
  await mkdir(dirname(to), { recursive: true });
  const scratch = await mkdtemp(join(dirname(to), `.${basename(to)}-datakeep-`));
  const progress = (phase: RestoreProgress['phase'], done: number) => options.onProgress?.({ phase, filesTotal: chain.length, filesDone: done, bytesTotal: 0, bytesDone: 0 });
  let server: RestoredServer | undefined;
  let started = false;
  try {
    await mkdir(to, { recursive: true, mode: 0o750 });
    progress('writing', 0);
    for (const [index, backupId] of chain.entries()) {
      const dir = index === 0 ? to : join(scratch, `inc-${index}`);
      await mkdir(dir, { recursive: true });
      await extract(repository, backupId, dir, options.signal);
      progress('writing', index + 1);
    }
    await runPrepare(['--prepare', `--target-dir=${to}`], options.signal);
    for (let index = 1; index < chain.length; index++) {
      await runPrepare(['--prepare', `--target-dir=${to}`, `--incremental-dir=${join(scratch, `inc-${index}`)}`], options.signal);
    }
    if (user) await chownTree(to, user.uid, user.gid);
    const pieces = run?.pieces ?? [];
    progress('starting', chain.length);
    server = await startRestoredServer({ dataDir: to, port: options.start?.port ?? await freePort('127.0.0.1'), admin: true });
    if (pieces.length > 0 && baseSeq !== undefined) {
      const files = await writeBinlogFiles(repository, pieces, join(scratch, 'binlog'));
      await replay(files, position, stopDatetime, server.optionFile!, options.signal);
    }
    await server.dropAdmin();
    if (options.start) started = true;
    else await server.stop();
    server = undefined;
    progress('done', chain.length);
    const note = options.target === undefined && run?.gap ? `the binlog archive has a gap (${run.gap.missing}): replayed up to it` : undefined;
    return { backupId: base.backupId, chain, to, target: options.target?.toISOString(), stopDatetime, binlogPieces: pieces.length, started, note };
  } catch (error) {
    await server?.stop().catch(() => undefined);
    if (!options.keepFailed) await rm(to, { recursive: true, force: true });
    throw error instanceof MariadbBackupError || error instanceof UsageError ? error : new MariadbBackupError('restore-failed', `restore of ${database} into ${to} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The base: the backup asked for, or the newest whose consistency point is at or before the target. */
function chooseBase(backups: readonly BackupSummary[], backupId: string | undefined, target: Date | undefined): BackupSummary {
  if (backups.length === 0) throw new MariadbBackupError('backup-not-found', 'the repository holds no MariaDB backup of this database; take one with createBackup');
  const at = target?.toISOString();
  if (backupId !== undefined) {
    const found = backups.find((b) => b.backupId === backupId);
    if (!found) throw new MariadbBackupError('backup-not-found', `backup ${backupId} is not a MariaDB backup in this repository (there are: ${backups.map((b) => b.backupId).join(', ')})`);
    if (at !== undefined && consistentAt(found) > at) throw new MariadbBackupError('target-unreachable', `target ${at} lies before backup ${backupId} became consistent (${consistentAt(found)}); nothing was restored; choose an older backup or a later target`);
    return found;
  }
  const usable = at === undefined ? backups : backups.filter((b) => consistentAt(b) <= at);
  const base = usable.at(-1);
  if (!base) throw new MariadbBackupError('target-unreachable', `target ${at} lies before the oldest backup's consistency point (${consistentAt(backups[0]!)}); nothing was restored`);
  return base;
}

async function assertEmptyDestination(to: string): Promise<void> {
  if (existsSync(to) && (await readdir(to)).length > 0) {
    throw new MariadbBackupError('unsafe-destination', `restore destination ${to} is not empty (a running server's data directory, or an earlier restore); nothing was written; give a new or empty directory`);
  }
}

/** Streams one backup's mbstream from the repository into `mbstream -x`. */
async function extract(repository: Repository, backupId: string, dir: string, signal: AbortSignal | undefined): Promise<void> {
  const entries = streamFiles((await repository.manifest(backupId)).files);
  if (entries.length === 0) throw new MariadbBackupError('backup-not-found', `backup ${backupId} has no ${STREAM_FILE}: it was not made by mariadb-backup`);
  const tool = startTool('mbstream', ['-x', '-C', dir], { what: `extracting backup ${backupId}`, timeoutMs: TOOL_TIMEOUT_MS, stdin: 'pipe', signal });
  tool.stdout.resume();
  const feed = async () => {
    // The segments one after the other into one stdin (each read is verified chunk by chunk and by its SHA-256).
    for (const [i, entry] of entries.entries()) await pipeline(repository.readFile(entry), tool.stdin, { end: i === entries.length - 1 });
  };
  try {
    await Promise.all([feed(), tool.done]);
  } catch (error) {
    tool.kill();
    throw error;
  }
}

async function runPrepare(args: string[], signal: AbortSignal | undefined): Promise<void> {
  const tool = startTool('mariadb-backup', args, { what: 'preparing the restored backup', timeoutMs: TOOL_TIMEOUT_MS, signal });
  tool.stdout.resume();
  await tool.done;
}

/** Reassembles the archived binlog files from their pieces (mariadb-binlog reads files; only the restore writes them). */
async function writeBinlogFiles(repository: Repository, pieces: readonly BinlogPiece[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const seq of [...new Set(pieces.map((p) => p.seq))]) {
    const path = join(dir, `binlog.${String(seq).padStart(6, '0')}`);
    const out = createWriteStream(path);
    for (const piece of pieces.filter((p) => p.seq === seq)) {
      const content = await repository.getWal(piece.name);
      if (!content) throw new MariadbBackupError('binlog-gap', `binlog piece ${piece.name} vanished from the repository during the restore`, { items: [piece.name] });
      if (!out.write(content)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((res, rej) => out.end((error?: Error | null) => (error ? rej(error) : res())));
    files.push(path);
  }
  return files;
}

/** mariadb-binlog (in UTC, so --stop-datetime means UTC) piped into the mariadb client as the temporary administrator. */
async function replay(files: readonly string[], position: number, stopDatetime: string | undefined, optionFile: string, signal: AbortSignal | undefined): Promise<void> {
  const args = [`--start-position=${position}`, ...(stopDatetime ? [`--stop-datetime=${stopDatetime}`] : []), ...files];
  const reader = startTool('mariadb-binlog', args, { what: 'reading the archived binlog', timeoutMs: TOOL_TIMEOUT_MS, env: { ...process.env, TZ: 'UTC' }, signal });
  const client = startTool('mariadb', [`--defaults-extra-file=${optionFile}`, '--binary-mode'], { what: 'replaying the binlog into the restored server', timeoutMs: TOOL_TIMEOUT_MS, stdin: 'pipe', signal });
  client.stdout.resume();
  try {
    await Promise.all([pipeline(reader.stdout, client.stdin), reader.done, client.done]);
  } catch (error) {
    reader.kill();
    client.kill();
    throw error;
  }
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as mariadb-binlog's --stop-datetime takes it. */
function formatUtcSecond(second: number): string {
  return new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
}
