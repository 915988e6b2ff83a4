import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WAL_PREFETCH_SPOOL } from './wal-prefetch-spool.js';

/** A regular file of the data directory to back up. */
export interface DataFile {
  /** Relative to the data directory, `/` separators; tablespace files live under `pg_tblspc/<oid>/`. */
  readonly path: string;
  readonly absolutePath: string;
}

export interface DataDirectory {
  readonly path: string;
  readonly mode: number;
}

export interface Tablespace {
  readonly oid: string;
  /** Where the `pg_tblspc/<oid>` symlink pointed on the backed-up server. */
  readonly location: string;
}

export interface DataDirectoryListing {
  readonly files: DataFile[];
  readonly directories: DataDirectory[];
  readonly tablespaces: Tablespace[];
}

/**
 * Files pg_basebackup leaves out (basebackup.c excludeFiles), the signal files a restore writes itself, and what a
 * restore leaves for restore_command until recovery ends: the passphrase file (a secret never goes into a backup) and
 * the spool of prefetched WAL (a directory, skipped whole: copies of archived WAL, and stale once recovery is over).
 */
const EXCLUDED_FILES = new Set([
  'postmaster.pid', 'postmaster.opts', 'postgresql.auto.conf.tmp', 'current_logfiles.tmp', 'backup_label',
  'tablespace_map', 'backup_manifest', 'backup_label.old', 'recovery.signal', 'standby.signal',
  'datakeep_restore_passphrase', WAL_PREFETCH_SPOOL,
]);

/** Directories whose contents pg_basebackup leaves out (they are recreated empty): runtime state, not data. */
export const EXCLUDED_DIRECTORY_CONTENTS = Object.freeze([
  'pg_wal', 'pg_stat_tmp', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans',
]);
const EXCLUDED_CONTENTS = new Set(EXCLUDED_DIRECTORY_CONTENTS);

/** `12345`, `12345.1`, `12345_fsm`, `12345_vm.2`, `12345_init`: a relation fork segment. */
const RELATION_FILE = /^(\d+)(?:_(fsm|vm|init))?(?:\.\d+)?$/;
/** Temporary relations (`t3_12345`) die with their session; pg_basebackup skips them too. */
const TEMP_RELATION = /^t\d+_\d+/;

/**
 * Lists what a physical backup of `dataDirectory` must copy, with pg_basebackup's exclusions: runtime files and the
 * contents of runtime directories, temporary files, relcache init files, unlogged relations (all forks but `_init`,
 * which recovery copies over the main fork), temporary relations. Tablespace symlinks in `pg_tblspc` are followed.
 * File names only: contents are read later, by the caller.
 */
export async function walkDataDirectory(dataDirectory: string): Promise<DataDirectoryListing> {
  const listing: DataDirectoryListing = { files: [], directories: [], tablespaces: [] };
  await walk(dataDirectory, '', listing, 0);
  return listing;
}

async function walk(absolute: string, relative: string, out: DataDirectoryListing, depth: number): Promise<void> {
  let names: string[];
  try {
    names = await readdir(absolute);
  } catch (error) {
    // A database dropped during the backup takes its directory with it; WAL replay drops it in the restore too.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && depth > 0) return;
    throw error;
  }
  names.sort();
  const unlogged = new Set<string>();
  for (const name of names) {
    const match = /^(\d+)_init(?:\.\d+)?$/.exec(name);
    if (match) unlogged.add(match[1]!);
  }
  for (const name of names) {
    const childRelative = relative === '' ? name : `${relative}/${name}`;
    const childAbsolute = join(absolute, name);
    if (name.startsWith('pgsql_tmp') || name.startsWith('pg_internal.init') || TEMP_RELATION.test(name)) continue;
    if (relative === '' && EXCLUDED_FILES.has(name)) continue;
    const relation = RELATION_FILE.exec(name);
    if (relation && unlogged.has(relation[1]!) && relation[2] !== 'init') continue;

    let info;
    try {
      info = await lstat(childAbsolute);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (info.isSymbolicLink()) {
      const target = await readlink(childAbsolute);
      if (relative === 'pg_tblspc') out.tablespaces.push({ oid: name, location: target });
      try {
        info = await stat(childAbsolute);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
    }
    if (info.isDirectory()) {
      out.directories.push({ path: childRelative, mode: info.mode & 0o7777 });
      if (relative === '' && EXCLUDED_CONTENTS.has(name)) continue;
      await walk(childAbsolute, childRelative, out, depth + 1);
    } else if (info.isFile()) {
      out.files.push({ path: childRelative, absolutePath: childAbsolute });
    }
    // Sockets, FIFOs and devices are not data.
  }
}
