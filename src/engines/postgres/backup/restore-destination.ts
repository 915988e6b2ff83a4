import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PostgresBackupError } from './postgres-backup-error.js';
import { processAlive } from '../../../util/process-alive.js';

/** Written first into a restore's directory and removed last: its presence marks a restore that never finished. */
export const RESTORE_IN_PROGRESS = '.datakeep-restore-incomplete';

/**
 * Refuses a restore destination that holds anything: a running cluster's data directory above all (its postmaster.pid
 * names a live process), and any non-empty directory (restoring over files would mix two clusters). Returns whether
 * the directory exists (an empty one is used as is, e.g. a mount point).
 */
export async function checkRestoreDestination(to: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new PostgresBackupError('unsafe-destination', `to: cannot read "${to}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give an empty or non-existent directory`, { cause: error });
  }
  if (names.includes('postmaster.pid')) {
    const pid = Number((await readFile(join(to, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n', 1)[0]);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
      throw new PostgresBackupError('unsafe-destination', `to: "${to}" is the data directory of a running PostgreSQL server (postmaster PID ${pid}); stop it and move its data aside, or restore into another directory`);
    }
  }
  if (names.includes(RESTORE_IN_PROGRESS)) {
    const writer = Number(/by process (\d+)/.exec(await readFile(join(to, RESTORE_IN_PROGRESS), 'utf8').catch(() => ''))?.[1]);
    if (Number.isInteger(writer) && writer !== process.pid && processAlive(writer)) {
      throw new PostgresBackupError('unsafe-destination', `to: "${to}" is being written by another restore (process ${writer}); wait for it, or restore into another directory`);
    }
    // A restore killed half-way (its process could not clean up) left this: only datakeep wrote it, and no server
    // runs from it (checked above), so it is emptied and the new restore goes ahead.
    for (const name of names) await rm(join(to, name), { recursive: true, force: true });
    return true;
  }
  if (names.length > 0) {
    throw new PostgresBackupError('unsafe-destination', `to: "${to}" is not empty (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}); restore into an empty or non-existent directory`);
  }
  return true;
}
