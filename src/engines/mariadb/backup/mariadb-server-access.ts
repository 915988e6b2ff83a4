import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mariadb, { type Connection } from 'mariadb';
import { MariadbBackupError } from './mariadb-backup-error.js';

/** How datakeep reaches the server being backed up (its own tools and a short session of its own). */
export interface MariadbServerAccess {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Never on a command line (other users see those in ps): the tools get it through an option file of mode 0600. */
  readonly password: string | undefined;
}

/** Bound on connecting: a server that is down must fail the backup at once, before anything is stored. */
const CONNECT_TIMEOUT_MS = 10_000;

/** A session of its own (the adapter's pool may be busy or closed); the caller ends it. */
export async function openServerSession(access: MariadbServerAccess): Promise<Connection> {
  try {
    return await mariadb.createConnection({
      host: access.host, port: access.port, user: access.user, password: access.password,
      connectTimeout: CONNECT_TIMEOUT_MS, multipleStatements: false, bigIntAsNumber: true, dateStrings: true,
    });
  } catch (cause) {
    throw new MariadbBackupError('server-unreachable', `cannot connect to the MariaDB server at ${access.host}:${access.port} as ${access.user}: ${(cause as Error).message}; nothing was backed up; start the server or fix host, port and credentials`, { cause });
  }
}

/**
 * Runs `fn` with a client option file holding the access (first argument of every tool: `--defaults-extra-file=`),
 * removed afterwards.
 */
export async function withOptionFile<T>(access: MariadbServerAccess, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'datakeep-mariadb-'));
  const path = join(dir, 'client.cnf');
  const lines = [`host=${access.host}`, `port=${access.port}`, `user=${access.user}`, ...(access.password === undefined ? [] : [`password=${quoteOption(access.password)}`])];
  await writeFile(path, `[client]\n${lines.join('\n')}\n[mariadb-backup]\n${lines.join('\n')}\n`, { mode: 0o600 });
  try {
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An option file value in double quotes with backslash escapes (a password may hold #, spaces or quotes). */
function quoteOption(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
