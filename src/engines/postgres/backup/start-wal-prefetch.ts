import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { checkWalSegmentFile } from './wal-segment-header.js';
import { isSpoolableSegment, livePrefetcher, pruneSpool, spoolWindow, takeSpoolError, writePosition } from './wal-prefetch-spool.js';

export interface StartWalPrefetchInput {
  readonly spool: string;
  readonly queue: number;
  /** The segment `wal get` just served from the archive (never a `.stream` snapshot: nothing complete follows it). */
  readonly served: { readonly name: string; readonly content: Buffer };
  /** The argv that runs the prefetcher (`datakeep wal prefetch ...`), absolute paths; its passphrase comes the same
   * way as this process's (a file named in it, or the inherited environment), never in the argv. */
  readonly prefetcherArgv: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The foreground half of prefetching, run by `wal get` after it served a segment the spool did not have: records the
 * position (the segment and its size, from its page header), drops spooled segments outside the new window (another
 * timeline, ones already replayed), and starts a detached prefetcher unless one is running. Returns what the server's
 * log should say: why the previous prefetcher stopped, or why this one could not start. Never throws: prefetching
 * only saves time, and serving the segment already succeeded.
 */
export async function startWalPrefetch(input: StartWalPrefetchInput): Promise<string | undefined> {
  const { spool, queue, served } = input;
  if (queue <= 0 || !isSpoolableSegment(served.name)) return undefined;
  let segmentSize: number;
  try {
    segmentSize = checkWalSegmentFile(served.name, served.content).segmentSize;
  } catch {
    // Not a whole segment of its name: PostgreSQL judges it; nothing after it is fetched on its word.
    return undefined;
  }
  try {
    await mkdir(spool, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const position = { name: served.name, segmentSize };
    await writePosition(spool, position);
    await pruneSpool(spool, new Set(spoolWindow(position, queue)));
    const previous = await takeSpoolError(spool);
    if (livePrefetcher(spool) === undefined) {
      const [command, ...args] = input.prefetcherArgv;
      const child = spawn(command!, args, { detached: true, stdio: 'ignore', cwd: '/', env: input.env ?? process.env });
      child.on('error', () => undefined);
      child.unref();
    }
    return previous === undefined ? undefined : `the WAL prefetcher reported: ${previous}; prefetching goes on`;
  } catch (error) {
    return `WAL prefetching into ${spool} is off for now (${(error as Error).message}); each segment is fetched by restore_command itself`;
  }
}
