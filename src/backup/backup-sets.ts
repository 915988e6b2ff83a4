import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors/index.js';

/**
 * A backup set: what one `createBackup()` run made of every database it backed up, each member a backup of its own
 * (its own repository, engine and consistency point). A set is written only once every member has completed, so a
 * run that failed half-way leaves its finished members as ordinary backups and no set that would promise the rest.
 *
 * Sets live next to the repositories, as `DESTINATION/.sets/<set id>.json` (a name no database id can take). The file
 * is an index: restoring a set restores each member from its own repository, which authenticates every byte.
 */
export interface BackupSet {
  readonly setId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly members: readonly BackupSetMember[];
}

export interface BackupSetMember {
  readonly database: string;
  readonly engine: string;
  readonly backupId: string;
  readonly type: string;
  /** The member's own consistency point (when its driver reports one): where a restore without a target lands. */
  readonly consistentAt?: string;
}

const SETS_DIRECTORY = '.sets';
const SET_ID = /^set-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

const memberSchema = z.object({ database: z.string(), engine: z.string(), backupId: z.string(), type: z.string(), consistentAt: z.string().optional() });
const setSchema = z.object({ setId: z.string().regex(SET_ID), startedAt: z.string(), finishedAt: z.string(), members: z.array(memberSchema).min(1) });

/** `set-20261205T112508Z-1a2b3c4d`: sortable by start time, like backup ids. */
export function newSetId(started: Date): string {
  return `set-${started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}

export function isSetId(id: string | undefined): id is string {
  return id !== undefined && SET_ID.test(id);
}

/** Writes the set once all members are done (a temporary file renamed into place: never a half-written set). */
export async function writeBackupSet(destination: string, set: BackupSet): Promise<void> {
  const directory = join(destination, SETS_DIRECTORY);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const file = join(directory, `${set.setId}.json`);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(set, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

/** Every set under the destination, oldest first, keeping only members whose backup still exists (retention may expire some). */
export async function readBackupSets(destination: string, existing: (member: BackupSetMember) => boolean): Promise<BackupSet[]> {
  const directory = join(destination, SETS_DIRECTORY);
  if (!existsSync(directory)) return [];
  const sets: BackupSet[] = [];
  for (const name of (await readdir(directory)).filter((n) => n.endsWith('.json')).sort()) {
    const parsed = setSchema.safeParse(parseJson(await readFile(join(directory, name), 'utf8').catch(() => 'null')));
    // A file that is not a set (edited by hand, cut short by a full disk) is skipped, not fatal: the members remain
    // ordinary backups, listed and restorable one by one.
    if (!parsed.success) continue;
    const members = parsed.data.members.filter(existing);
    if (members.length > 0) sets.push({ ...parsed.data, members });
  }
  return sets;
}

/** The set `setId`, or a UsageError naming the sets there are. */
export async function findBackupSet(destination: string, setId: string, existing: (member: BackupSetMember) => boolean): Promise<BackupSet> {
  const sets = await readBackupSets(destination, existing);
  const set = sets.find((s) => s.setId === setId);
  if (!set) {
    const known = sets.slice(-5).map((s) => s.setId).join(', ');
    throw new UsageError('backupId', `no backup set "${setId}" in ${destination}${known ? ` (the newest: ${known})` : ''}; see datakeep backup list`);
  }
  return set;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
