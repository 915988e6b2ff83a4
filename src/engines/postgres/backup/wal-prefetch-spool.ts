import { readFileSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { followingSegments } from './wal-position.js';

/**
 * The spool of prefetched WAL segments, inside the restored data directory: the server's OS user owns it (it runs
 * restore_command, which creates it), PostgreSQL ignores a directory of this name, a physical backup of the cluster
 * skips it (data-directory-walk), and recovery_end_command removes it. Two restores have two data directories, hence
 * two spools.
 */
export const WAL_PREFETCH_SPOOL = 'datakeep_wal_prefetch';

/** Segments fetched ahead by default: 8 × 16 MiB = 128 MiB, pgBackRest's default archive-get-queue-max. */
export const DEFAULT_WAL_PREFETCH = 8;
/** At most 64 segments ahead: beyond that the spool only costs disk (64 GiB with 1 GiB segments). */
export const MAX_WAL_PREFETCH = 64;

/**
 * What the spool holds besides complete segments (each under its own 24-digit name):
 * - `want`: the last segment `wal get` served from the archive and its size; the prefetcher keeps the segments after it.
 * - `prefetch.pid`: the running prefetcher (one at a time).
 * - `prefetch.error`: why the last prefetcher stopped, for the next `wal get` to print into the server's log.
 * - `.<segment>.<pid>.tmp`: a segment being written; renamed to its name once complete and synced, so the shell
 *   fast path of restore_command (which moves only `<spool>/%f`) never sees a partial file.
 */
export const SPOOL_FILES = Object.freeze({ want: 'want', lock: 'prefetch.pid', error: 'prefetch.error' });

export function walPrefetchSpool(dataDirectory: string): string {
  return join(dataDirectory, WAL_PREFETCH_SPOOL);
}

export function spoolTemporaryName(segment: string, pid: number): string {
  return `.${segment}.${pid}.tmp`;
}

const SEGMENT = /^[0-9A-F]{24}$/;
const TEMPORARY = /^\.[0-9A-F]{24}\.\d+\.tmp$/;

/** Complete segments only: history, `.partial`, `.backup` and `.stream` names never enter the spool. */
export function isSpoolableSegment(name: string): boolean {
  return SEGMENT.test(name);
}

/** Where prefetching stands: the segment recovery asked for last, and the segment size read from its page header. */
export interface SpoolPosition {
  readonly name: string;
  readonly segmentSize: number;
}

/** The segments the spool may hold after `position`: the next `queue` ones on its timeline, in replay order. */
export function spoolWindow(position: SpoolPosition, queue: number): string[] {
  return followingSegments(position.name, position.segmentSize, queue) ?? [];
}

/**
 * Records the position, with a stamp unique to this write: a `wal get` of the segment asked for before (recovery
 * restarted) is still news to the prefetcher.
 */
export async function writePosition(spool: string, position: SpoolPosition): Promise<void> {
  const temporary = join(spool, `.${SPOOL_FILES.want}.${process.pid}.tmp`);
  await writeFile(temporary, `${position.name} ${position.segmentSize} ${process.pid}-${Date.now()}\n`, { mode: 0o600 });
  await rename(temporary, join(spool, SPOOL_FILES.want));
}

/** The position and its stamp, or undefined when there is none or it is not one this code writes. */
export async function readPosition(spool: string): Promise<(SpoolPosition & { readonly stamp: string }) | undefined> {
  const text = await readFile(join(spool, SPOOL_FILES.want), 'utf8').catch(() => undefined);
  const match = text === undefined ? null : /^([0-9A-F]{24}) (\d+) (\d+-\d+)\n$/.exec(text);
  if (!match) return undefined;
  const position = { name: match[1]!, segmentSize: Number(match[2]), stamp: match[3]! };
  return followingSegments(position.name, position.segmentSize, 0) ? position : undefined;
}

/** The complete segments in the spool (none when it is gone). */
export async function listSegments(spool: string): Promise<string[]> {
  return (await readdir(spool).catch(() => [] as string[])).filter(isSpoolableSegment);
}

/**
 * Removes every spooled segment outside `keep` (another timeline after a switch, ones recovery has gone past, a
 * smaller queue): what the fast path could still serve is only ever a segment the prefetcher was asked for.
 * Returns the segments kept.
 */
export async function pruneSpool(spool: string, keep: ReadonlySet<string>): Promise<Set<string>> {
  const present = new Set<string>();
  for (const file of await listSegments(spool)) {
    if (keep.has(file)) present.add(file);
    else await rm(join(spool, file), { force: true });
  }
  return present;
}

/** Removes segment files left half-written by a prefetcher that was killed (only the lock holder calls this). */
export async function removeTemporaries(spool: string): Promise<void> {
  for (const file of await readdir(spool).catch(() => [] as string[])) {
    if (TEMPORARY.test(file)) await rm(join(spool, file), { force: true });
  }
}

/** The pid of a live prefetcher holding the spool's lock, or undefined (none, or one that died without releasing it). */
export function livePrefetcher(spool: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(spool, SPOOL_FILES.lock), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: another user's process under a reused pid (a prefetcher runs as restore_command's user).
    return undefined;
  }
  // A pid reused by another program after the prefetcher died does not hold the lock.
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!command.includes('\0wal\0prefetch\0')) return undefined;
  } catch {
    // No /proc (not Linux): trust the signal probe.
  }
  return pid;
}

/** Records why the prefetcher stopped; the next `wal get` prints it into the server's log and removes it. */
export async function writeSpoolError(spool: string, message: string): Promise<void> {
  await writeFile(join(spool, SPOOL_FILES.error), `${message}\n`, { mode: 0o600 }).catch(() => undefined);
}

export async function takeSpoolError(spool: string): Promise<string | undefined> {
  const path = join(spool, SPOOL_FILES.error);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  await rm(path, { force: true });
  return text.trim();
}
