import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mariadb, { type Connection } from 'mariadb';
import { serverOsUser, type ServerOsUser } from '../../postgres/backup/server-os-user.js';
import { MariadbBackupError } from './mariadb-backup-error.js';

/** The pid file a restored server writes into its data directory (how `stopRestoredServer` finds it). */
export const PID_FILE = 'datakeep-restored.pid';
/** The socket of a restored server started by the user (the restore's own server uses a private one). */
const SOCKET_FILE = 'datakeep-restored.sock';
const ERROR_LOG = 'datakeep-restored.err';
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 120_000;

/** A mariadbd datakeep started on a restored data directory. */
export interface RestoredServer {
  readonly port: number;
  readonly pid: number;
  /** A session as the temporary administrator (only when started with `admin`). */
  connect(): Promise<Connection>;
  /** A client option file for the temporary administrator (`--defaults-extra-file=`), for the mariadb client. */
  readonly optionFile: string | undefined;
  /** Drops the temporary administrator: a server handed to the user keeps no account of datakeep's. */
  dropAdmin(): Promise<void>;
  stop(): Promise<void>;
}

/** The OS user mariadbd runs as when datakeep runs as root. */
export function mariadbOsUser(): ServerOsUser | undefined {
  return process.getuid?.() === 0 ? serverOsUser('mysql') : undefined;
}

/** The server options a backup needs to be opened with (backup-my.cnf: page size, data file layout). */
function backupOptions(dataDir: string): string[] {
  const path = join(dataDir, 'backup-my.cnf');
  if (!existsSync(path)) return [];
  const keep = ['innodb_page_size', 'innodb_data_file_path', 'innodb_undo_tablespaces', 'innodb_checksum_algorithm'];
  return readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => keep.some((k) => l.startsWith(`${k}=`))).map((l) => `--${l}`);
}

/**
 * mariadbd's arguments for a restored data directory: the backup's page size and file layout, 127.0.0.1:`port`, a
 * socket, pid file and error log of its own (the compiled-in defaults are the source server's, on the same host: a
 * second server there refuses to start), no binlog of its own and no replication started; as root, the mysql user.
 * The restore's replay and the `startCommand` printed for the user both start the server with these.
 */
export function restoredServerArgs(dataDir: string, port: number, socket = join(dataDir, SOCKET_FILE)): string[] {
  const user = mariadbOsUser();
  return [
    '--no-defaults', `--datadir=${dataDir}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${socket}`,
    `--pid-file=${join(dataDir, PID_FILE)}`, `--log-error=${join(dataDir, ERROR_LOG)}`, '--skip-log-bin', '--skip-slave-start',
    ...backupOptions(dataDir), ...(user ? [`--user=${user.name}`] : []),
  ];
}

/**
 * Starts mariadbd on a restored data directory, on 127.0.0.1:`port`, without binlog or replication. With `admin`, an
 * init file creates a temporary administrator with a random password (the restored grants are the source's, whose
 * passwords datakeep does not know; --skip-grant-tables would refuse the GRANT statements a binlog replay may hold).
 * The server is detached: a restore asked to `start` it returns while it runs.
 */
export async function startRestoredServer(input: { dataDir: string; port: number; admin: boolean; timeoutMs?: number }): Promise<RestoredServer> {
  const user = mariadbOsUser();
  const runDir = await mkdtemp(join(tmpdir(), 'dk-mdb-'));
  await chmod(runDir, 0o700);
  if (user) await chown(runDir, user.uid, user.gid);
  const socket = join(runDir, 's.sock');
  const adminUser = `datakeep_restore_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const args = restoredServerArgs(input.dataDir, input.port, socket);
  let optionFile: string | undefined;
  if (input.admin) {
    const init = join(runDir, 'init.sql');
    await writeFile(init, `CREATE USER '${adminUser}'@'127.0.0.1' IDENTIFIED BY '${password}';\nGRANT ALL PRIVILEGES ON *.* TO '${adminUser}'@'127.0.0.1' WITH GRANT OPTION;\n`, { mode: 0o600 });
    if (user) await chown(init, user.uid, user.gid);
    args.push(`--init-file=${init}`);
    optionFile = join(runDir, 'client.cnf');
    await writeFile(optionFile, `[client]\nhost=127.0.0.1\nport=${input.port}\nuser=${adminUser}\npassword=${password}\n`, { mode: 0o600 });
  }
  const log = openSync(join(runDir, 'stdout.log'), 'a');
  const child = spawn('mariadbd', args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  child.unref();
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = String(code ?? signal);
  });
  child.once('error', (error) => {
    exited = error.message;
  });
  const pid = child.pid ?? 0;
  const connect = () => mariadb.createConnection({ host: '127.0.0.1', port: input.port, user: adminUser, password, connectTimeout: 5000, multipleStatements: true, bigIntAsNumber: true });
  const stop = async () => {
    await stopPid(pid, input.dataDir);
    await rm(runDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (input.timeoutMs ?? START_TIMEOUT_MS);
  for (;;) {
    if (exited !== undefined) {
      await rm(runDir, { recursive: true, force: true });
      throw new MariadbBackupError('restore-failed', `the restored server on ${input.dataDir} exited (${exited}) while starting: ${await errorTail(input.dataDir)}`);
    }
    const ready = input.admin
      ? await connect().then(async (c) => { await c.end(); return true; }, () => false)
      : await probePort(input.port);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new MariadbBackupError('restore-failed', `the restored server on ${input.dataDir} did not accept connections on port ${input.port} within ${Math.round((input.timeoutMs ?? START_TIMEOUT_MS) / 1000)} s: ${await errorTail(input.dataDir)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    port: input.port, pid, connect, optionFile, stop,
    dropAdmin: async () => {
      if (!input.admin) return;
      const c = await connect();
      try {
        await c.query(`DROP USER '${adminUser}'@'127.0.0.1'`);
      } finally {
        await c.end();
      }
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

/** Stops the server datakeep started on `dataDir` (its pid file), waiting for a clean shutdown; nothing when none runs. */
export async function stopRestoredServer(dataDir: string): Promise<void> {
  const text = await readFile(join(dataDir, PID_FILE), 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  if (Number.isInteger(pid) && pid > 0) await stopPid(pid, dataDir);
}

async function stopPid(pid: number, dataDir: string): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new MariadbBackupError('restore-failed', `the restored server (pid ${pid}) on ${dataDir} did not shut down within ${STOP_TIMEOUT_MS / 1000} s and was killed`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function probePort(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function errorTail(dataDir: string): Promise<string> {
  const text = await readFile(join(dataDir, ERROR_LOG), 'utf8').catch(() => '');
  return text.trim().split('\n').filter((l) => /error|\[ERROR\]/i.test(l)).slice(-4).join(' | ') || '(see its error log, ' + join(dataDir, ERROR_LOG) + ')';
}
