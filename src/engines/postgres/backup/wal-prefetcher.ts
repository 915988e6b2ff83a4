import { existsSync } from 'node:fs';
import { link, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { checkWalSegmentFile } from './wal-segment-header.js';
import {
  listSegments, livePrefetcher, pruneSpool, readPosition, removeTemporaries, spoolTemporaryName, spoolWindow, SPOOL_FILES, writeSpoolError, type SpoolPosition,
} from './wal-prefetch-spool.js';

export interface WalPrefetcherOptions {
  repository: Repository;
  /** The spool directory, which `wal get` created and keeps the position in. */
  spool: string;
  /** Segments to keep ready after the one recovery asked for last. */
  queue: number;
  /** Segments read from the repository at once (default 2: one decrypting while the other is read). */
  parallel?: number;
  /** Bound on reading one segment; past it the prefetcher stops (default 60 s). */
  readTimeoutMs?: number;
  /** Stops after this long without recovery asking for anything new and nothing left to fetch (default 30 s). */
  idleMs?: number;
  /** Stops after this long in any case (default 15 min); the next `wal get` that the spool cannot serve starts another. */
  lifetimeMs?: number;
  /** How often the spool is looked at while there is nothing to fetch (default 100 ms). */
  pollMs?: number;
}

export type WalPrefetcherExit =
  /** Another prefetcher holds the spool. */
  | 'locked'
  /** No position in the spool: `wal get` has not asked for anything. */
  | 'no-position'
  /** The spool was removed: recovery ended (recovery_end_command), or the data directory is gone. */
  | 'spool-gone'
  /** The data directory's server is not running (no postmaster.pid). */
  | 'server-stopped'
  | 'idle'
  | 'lifetime'
  /** A read failed or took too long; the reason is in the spool's error file for the next `wal get` to report. */
  | 'failed';

/**
 * The background half of restore_command's prefetching (pgBackRest's asynchronous archive-get): keeps the `queue`
 * complete archived segments after the one recovery asked for last (the spool's position, which each `wal get`
 * writes) in the spool, where restore_command's shell fast path moves them into place without starting node.
 *
 * What it never does, so the spool can only ever hand PostgreSQL what `wal get` would have: spool anything but a
 * complete archived segment of the position's timeline (never a `.stream` snapshot, a history, `.partial` or `.backup`
 * file), a file that fails the segment header check for its name and size, or a file under its final name before it
 * is whole and synced (it is written under a temporary name, then renamed). One runs at a time (prefetch.pid); each
 * read is bounded; it stops when idle, at its lifetime, when the server stops or the spool goes, and on the first
 * repository error, which it leaves for the next `wal get` to print: restore_command then fetches segments itself.
 */
export async function runWalPrefetcher(options: WalPrefetcherOptions): Promise<WalPrefetcherExit> {
  const { repository, spool, queue } = options;
  const parallel = options.parallel ?? 2;
  const readTimeoutMs = options.readTimeoutMs ?? 60_000;
  const idleMs = options.idleMs ?? 30_000;
  const lifetimeMs = options.lifetimeMs ?? 15 * 60_000;
  const pollMs = options.pollMs ?? 100;
  if (!(await acquireLock(spool))) return 'locked';
  const started = Date.now();
  let lastActivity = started;
  let lastPresent = '';
  // Where recovery stands: the position `wal get` wrote last, moved on past each segment the fast path took from the
  // spool (one this prefetcher stored that is gone), so the queue refills while no `wal get` runs.
  let recorded: string | undefined;
  let effective: SpoolPosition | undefined;
  const stored = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  // A segment not archived yet is asked for again only after a while: the archive may still grow (a standby, or an
  // archiver catching up), but a PITR restore's archive usually ends there.
  const notBefore = new Map<string, number>();
  let failure: Error | undefined;
  let spoolGone = false;
  const dataDirectory = dirname(spool);
  const inDataDirectory = existsSync(join(dataDirectory, 'PG_VERSION'));
  let exit: WalPrefetcherExit;
  try {
    await removeTemporaries(spool);
    for (;;) {
      if (failure) {
        exit = 'failed';
        break;
      }
      if (spoolGone || !existsSync(spool)) {
        exit = 'spool-gone';
        break;
      }
      if (inDataDirectory && !existsSync(join(dataDirectory, 'postmaster.pid'))) {
        exit = 'server-stopped';
        break;
      }
      const now = Date.now();
      if (now - started > lifetimeMs) {
        exit = 'lifetime';
        break;
      }
      const written = await readPosition(spool);
      if (!written) {
        exit = 'no-position';
        break;
      }
      if (written.stamp !== recorded || !effective) {
        // `wal get` served a segment the spool did not have: recovery is there (perhaps on another timeline).
        recorded = written.stamp;
        effective = { name: written.name, segmentSize: written.segmentSize };
        lastActivity = now;
      } else {
        const onDisk = new Set(await listSegments(spool));
        const taken = spoolWindow(effective, queue).filter((name) => stored.has(name) && !onDisk.has(name)).at(-1);
        if (taken !== undefined) effective = { name: taken, segmentSize: effective.segmentSize };
      }
      const position = effective;
      const window = spoolWindow(position, queue);
      const present = await pruneSpool(spool, new Set(window));
      for (const name of stored) if (!window.includes(name)) stored.delete(name);
      const presentKey = [...present].sort().join(',');
      // Recovery moved on (the fast path took a segment): not idle.
      if (presentKey !== lastPresent) {
        lastActivity = now;
        lastPresent = presentKey;
      }
      const wanted = window.filter((name) => !present.has(name) && !inFlight.has(name) && (notBefore.get(name) ?? 0) <= now);
      for (const name of wanted.slice(0, Math.max(0, parallel - inFlight.size))) {
        const fetch = fetchOne(name, position.segmentSize).then((outcome) => {
          if (outcome === 'missing') notBefore.set(name, Date.now() + 1000);
          else if (outcome === 'stored') {
            stored.add(name);
            lastActivity = Date.now();
          }
          else if (outcome === 'spool-gone') spoolGone = true;
        }, (error: unknown) => {
          failure ??= error instanceof Error ? error : new Error(String(error));
        }).finally(() => inFlight.delete(name));
        inFlight.set(name, fetch);
      }
      if (inFlight.size === 0 && now - lastActivity > idleMs) {
        exit = 'idle';
        break;
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, pollMs)), ...inFlight.values()]);
    }
    await Promise.allSettled(inFlight.values());
    if (failure) {
      exit = 'failed';
      await writeSpoolError(spool, `it stopped: ${failure.message}`);
    }
    // Recovery is over (no recovery.signal or standby.signal left) but its recovery_end_command did not remove the
    // spool (its rm -rf raced with a write here, or failed): no server asks for WAL from it any more.
    if (inDataDirectory && !existsSync(join(dataDirectory, 'recovery.signal')) && !existsSync(join(dataDirectory, 'standby.signal'))) {
      await rm(spool, { recursive: true, force: true });
    }
  } finally {
    await releaseLock(spool);
  }
  return exit;

  async function fetchOne(name: string, segmentSize: number): Promise<'stored' | 'missing' | 'skipped' | 'spool-gone'> {
    const content = await bounded(repository.getWal(name), readTimeoutMs, name);
    if (content === undefined) return 'missing';
    try {
      const checked = checkWalSegmentFile(name, content);
      if (checked.segmentSize !== segmentSize) throw new Error(`its header says ${checked.segmentSize}-byte segments, the segment before it ${segmentSize}`);
    } catch (error) {
      // Not ours to judge for recovery: restore_command fetches it itself and PostgreSQL decides. Never spooled.
      await writeSpoolError(spool, `archived segment ${name} was not prefetched: ${(error as Error).message}`);
      notBefore.set(name, Number.MAX_SAFE_INTEGER);
      return 'skipped';
    }
    // Recovery may have moved past it (or to another timeline) while it was read.
    const written = await readPosition(spool);
    if (!written || written.stamp !== recorded || !effective || !spoolWindow(effective, queue).includes(name)) return 'skipped';
    const temporary = join(spool, spoolTemporaryName(name, process.pid));
    try {
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(content);
        // Synced before the rename: after a power loss the name never holds less than the whole segment.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, join(spool, name));
      return 'stored';
    } catch (error) {
      await rm(temporary, { force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'spool-gone';
      throw error;
    }
  }
}

/** Takes prefetch.pid atomically (link fails when it exists); a lock whose holder died is taken over once. */
async function acquireLock(spool: string): Promise<boolean> {
  const lock = join(spool, SPOOL_FILES.lock);
  const mine = join(spool, `.${SPOOL_FILES.lock}.${process.pid}.tmp`);
  await writeFile(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await link(mine, lock);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (livePrefetcher(spool) !== undefined) return false;
        await rm(lock, { force: true });
      }
    }
    return false;
  } finally {
    await rm(mine, { force: true });
  }
}

async function releaseLock(spool: string): Promise<void> {
  const lock = join(spool, SPOOL_FILES.lock);
  const holder = await readFile(lock, 'utf8').catch(() => '');
  if (holder.trim() === String(process.pid)) await rm(lock, { force: true });
}

async function bounded<T>(work: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PostgresBackupError('wal-prefetch-stopped', `reading ${name} from the repository took over ${Math.round(ms / 1000)} s; restore_command fetches each segment itself meanwhile (check the repository's storage; DATAKEEP_WAL_PREFETCH_READ_TIMEOUT sets this bound in seconds)`, { items: [name] })), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
