import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../../errors/index.js';
import { PostgresBackupError } from './postgres-backup-error.js';

/** The OS user a PostgreSQL server runs as: its ids, and the groups it belongs to (for permission checks). */
export interface ServerOsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

/** The `postgres` OS user (or `name`), from /etc/passwd and /etc/group. */
export function serverOsUser(name = 'postgres'): ServerOsUser {
  const line = readText('/etc/passwd').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new UsageError('owner', `there is no "${name}" OS user to own the restored files and run the server; pass owner: {uid, gid}`);
  const [, , uid, gid] = line.split(':');
  const groups = readText('/etc/group').split('\n').filter((g) => g.split(':')[3]?.split(',').includes(name)).map((g) => Number(g.split(':')[2]));
  return { name, uid: Number(uid), gid: Number(gid), groups: [Number(gid), ...groups] };
}

/**
 * Refuses, before anything is written, a location the server's OS user could not reach: PostgreSQL must enter every
 * directory above its data directory. Root can create a restore anywhere, and a server started on it would then fail
 * with "could not change directory" long after the copy. Checks the existing ancestors of `path`.
 */
export async function assertReachableBy(
  user: ServerOsUser, path: string, what: string,
  fail: (message: string) => Error = (message) => new PostgresBackupError('unsafe-destination', message),
  where = 'under /var/lib/postgresql',
): Promise<void> {
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) {
      const bits = info.uid === user.uid ? (info.mode >> 6) & 7 : user.groups.includes(info.gid) ? (info.mode >> 3) & 7 : info.mode & 7;
      if ((bits & 1) === 0) {
        throw fail(
          `${what}: the ${user.name} OS user cannot enter ${dir} (mode ${(info.mode & 0o777).toString(8)}, owner uid ${info.uid}), so a server could not use "${path}"; ` +
          `nothing was written; restore into a directory it can reach (e.g. ${where}), or give it access to ${dir}`);
      }
    }
    if (dir === dirname(dir)) return;
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
