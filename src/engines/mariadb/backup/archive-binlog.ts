import { createReadStream } from 'node:fs';
import { join, dirname } from 'node:path';
import type { Connection } from 'mariadb';
import { RepositoryError } from '../../../errors/index.js';
import type { Repository } from '../../../repository/repository-types.js';
import { walkEvents } from './binlog-events.js';
import { archivedRun, fileKey, pieceName, piecesByFile, seqOfBinlogFile, type BinlogPiece } from './binlog-pieces.js';
import { MariadbBackupError } from './mariadb-backup-error.js';

/** Pieces are cut at the first event boundary past this size: bounded memory per piece (an event larger than it makes a larger piece). */
const PIECE_BYTES = 16 * 1024 * 1024;

export interface BinlogArchiveResult {
  /** Pieces stored by this run. */
  readonly stored: readonly string[];
  readonly bytes: number;
  /** The binlog file the server writes now. */
  readonly current: string | undefined;
  /** Files the archive needed but the server no longer has (purged before they were archived): a gap. */
  readonly lost: readonly string[];
  /** The newest binlog file and its size when the run looked (archived up to there unless the run was aborted). */
  readonly end: { readonly file: string; readonly offset: number } | undefined;
}

/**
 * Runs of archiveBinlog per repository in this process, chained: a backup's run and the continuous capture's must not
 * cut the same bytes into different pieces (two overlapping pieces read as a hole). Across processes (a
 * `datakeep backup create` beside the service's capture) the repository's "mariadb-binlog" lease does the same.
 */
const runs = new Map<string, Promise<unknown>>();

/** How long a run waits for another process's run to finish: one run copies at most what was written since the last. */
const LEASE_WAIT_MS = 5 * 60_000;

/** Whether the server writes a binlog, and where (`@@log_bin_basename`); undefined when log_bin is off. */
export async function binlogLocation(session: Connection): Promise<{ directory: string; basename: string; encrypted: boolean } | undefined> {
  const [row] = await session.query<{ on: number; base: string | null; enc: number | null }[]>('SELECT @@log_bin AS `on`, @@log_bin_basename AS base, @@encrypt_binlog AS enc');
  if (!row || Number(row.on) !== 1 || !row.base) return undefined;
  return { directory: dirname(row.base), basename: row.base.slice(dirname(row.base).length + 1), encrypted: Number(row.enc ?? 0) === 1 };
}

/**
 * Copies the server's binlog into the repository from file `fromSeq` on (the backup's own binlog file at the first
 * run): each file's bytes not yet archived, read from the binlog directory (datakeep runs on the database host, as
 * mariadb-backup must), in pieces cut at event boundaries. Only bytes the server reports as written (SHOW BINARY
 * LOGS) are read, so the active file is archived up to its last whole event and continued at the next run.
 * A file the archive needs that the server has purged is reported in `lost` (the gap stays visible in window/verify).
 */
export async function archiveBinlog(input: { session: Connection; repository: Repository; fromSeq: number; signal?: AbortSignal }): Promise<BinlogArchiveResult> {
  const key = input.repository.storage.description;
  const run = (runs.get(key) ?? Promise.resolve()).catch(() => undefined).then(async () => {
    const lease = await input.repository.lease('mariadb-binlog', 'archive the MariaDB binlog', { timeoutMs: LEASE_WAIT_MS });
    try {
      return await archiveOnce({ ...input, signal: input.signal ? AbortSignal.any([input.signal, lease.lost]) : lease.lost });
    } finally {
      await lease.release();
    }
  });
  runs.set(key, run);
  try {
    return await run;
  } finally {
    if (runs.get(key) === run) runs.delete(key);
  }
}

async function archiveOnce(input: { session: Connection; repository: Repository; fromSeq: number; signal?: AbortSignal }): Promise<BinlogArchiveResult> {
  const location = await binlogLocation(input.session);
  if (!location) return { stored: [], bytes: 0, current: undefined, lost: [], end: undefined };
  if (location.encrypted) throw new MariadbBackupError('backup-failed', 'the server encrypts its binlog (encrypt_binlog=ON): datakeep cannot cut it at event boundaries; turn encrypt_binlog off (the repository encrypts what it stores) or archive the binlog another way');
  const logs = (await input.session.query<{ Log_name: string; File_size: number }[]>('SHOW BINARY LOGS')).map((r) => ({ name: r.Log_name, seq: seqOfBinlogFile(r.Log_name), size: Number(r.File_size) }));
  const byFile = piecesByFile(await input.repository.listWal());
  const archivedSeqs = [...byFile.keys()];
  const start = archivedSeqs.length === 0 ? input.fromSeq : Math.min(input.fromSeq, Math.max(...archivedSeqs));
  const oldestOnServer = logs[0]?.seq ?? start;
  const lost: string[] = [];
  for (let seq = start; seq < oldestOnServer; seq++) {
    if (!(byFile.get(seq) ?? []).some((p) => p.final)) lost.push(fileKey(seq));
  }
  const stored: string[] = [];
  let bytes = 0;
  const newestSeq = logs.at(-1)?.seq;
  for (const log of logs) {
    if (log.seq < start) continue;
    input.signal?.throwIfAborted();
    const pieces = byFile.get(log.seq) ?? [];
    const run = archivedRun(new Map([[log.seq, pieces]]), log.seq);
    const archivedEnd = run.pieces.at(-1)?.end ?? 0;
    const ended = run.pieces.at(-1)?.final ?? false;
    if (log.size < archivedEnd) {
      throw new MariadbBackupError('binlog-conflict', `binlog file ${log.name} is ${log.size} bytes on the server but ${archivedEnd} are archived: the binlog was reset (RESET MASTER) or another server writes to this repository; back up into a new destination`, { items: [log.name] });
    }
    const rotated = newestSeq !== undefined && log.seq < newestSeq;
    if (ended || (log.size === archivedEnd && !rotated)) continue;
    const copied = await copyRange({ repository: input.repository, path: join(location.directory, log.name), seq: log.seq, from: archivedEnd, to: log.size, rotated, signal: input.signal });
    stored.push(...copied.names);
    bytes += copied.bytes;
  }
  const newest = logs.at(-1);
  return { stored, bytes, current: newest?.name, lost, end: newest && { file: newest.name, offset: newest.size } };
}

/** Archives bytes [from, to) of one binlog file as pieces cut at event boundaries; the last is final when the file was rotated. */
async function copyRange(input: { repository: Repository; path: string; seq: number; from: number; to: number; rotated: boolean; signal?: AbortSignal }): Promise<{ names: string[]; bytes: number }> {
  const names: string[] = [];
  const { seq, to } = input;
  if (input.to === input.from) {
    // A rotated file already archived up to its end before the rotation was seen: an empty final piece says it ended.
    const name = pieceName(seq, to, to, true);
    await put(input.repository, name, Buffer.alloc(0));
    return { names: [name], bytes: 0 };
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pieceStart = input.from;
  let scanned = 0;
  const flush = async (upTo: number, last: boolean) => {
    const content = Buffer.concat(pending).subarray(0, upTo);
    const rest = Buffer.concat(pending).subarray(upTo);
    const name = pieceName(seq, pieceStart, pieceStart + content.length, last && input.rotated);
    await put(input.repository, name, content);
    names.push(name);
    pieceStart += content.length;
    pending = rest.length ? [rest] : [];
    pendingBytes = rest.length;
    scanned = 0;
  };
  const stream = createReadStream(input.path, { start: input.from, end: to - 1, highWaterMark: 1024 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      input.signal?.throwIfAborted();
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= PIECE_BYTES) {
        const whole = Buffer.concat(pending);
        pending = [whole];
        const { consumed } = walkEvents(whole, pieceStart);
        scanned = consumed;
        if (scanned > 0) await flush(scanned, false);
      }
    }
  } catch (cause) {
    if (input.signal?.aborted) throw cause;
    throw new MariadbBackupError('backup-failed', `cannot read binlog file ${input.path}: ${(cause as Error).message}; datakeep must run on the database host as a user that can read the binlog directory (root or mysql)`, { cause });
  }
  if (pieceStart + pendingBytes !== to) {
    throw new MariadbBackupError('backup-failed', `binlog file ${input.path} ended at byte ${pieceStart + pendingBytes}, before the ${to} bytes the server reported`);
  }
  await flush(pendingBytes, true);
  return { names, bytes: to - input.from };
}

async function put(repository: Repository, name: string, content: Buffer): Promise<void> {
  try {
    await repository.putWal(name, content);
  } catch (cause) {
    if (cause instanceof RepositoryError && cause.reason === 'wal-conflict') {
      throw new MariadbBackupError('binlog-conflict', `binlog piece ${name} is already archived with different content: the binlog was reset (RESET MASTER) or another server writes to this repository; back up into a new destination`, { items: [name], cause });
    }
    throw cause;
  }
}

export type { BinlogPiece };
