import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { shellQuote } from '../../../util/shell-quote.js';
import { serverOsUser } from '../backup/server-os-user.js';
import { runPgTool } from './pg-tool.js';

/** The node's data directory when it is on this machine (an initialised cluster there), else undefined. */
export function localDataDir(node: ReplicationNode): string | undefined {
  const dir = node.dataDir;
  return dir !== undefined && existsSync(join(dir, 'PG_VERSION')) ? dir : undefined;
}

/** The data directory's parent when the postgres user owns it and may write there, else undefined. */
function writableParent(dataDir: string): string | undefined {
  const parent = dirname(dataDir);
  try {
    const info = statSync(parent);
    return info.uid === serverOsUser().uid && (info.mode & 0o300) === 0o300 ? parent : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the server started by datakeep logs: next to the data directory when the postgres user may write there (the
 * file then survives pg_basebackup and pg_rewind, which replace the data directory's contents), else inside it.
 */
export function serverLogFile(dataDir: string): string {
  const parent = writableParent(dataDir);
  return parent !== undefined ? join(parent, `${baseName(dataDir)}.log`) : join(dataDir, 'datakeep-server.log');
}

/**
 * The Unix socket directory: the data directory's parent, or none (TCP only). Never the data directory itself:
 * pg_rewind copies its source's files and fails on a socket there. Socket paths are limited to about 107 bytes.
 */
function socketDirectory(dataDir: string): string {
  const parent = writableParent(dataDir);
  return parent !== undefined && parent.length + 20 < 100 ? parent : '';
}

/**
 * True when a postmaster runs on `dataDir`. A postmaster killed by SIGKILL stays a zombie until its parent reaps it,
 * and pg_ctl status (kill -0) counts a zombie as running; /proc tells them apart. Without access to the lock file
 * (not root), pg_ctl status answers.
 */
export async function isServerRunning(node: ReplicationNode, dataDir: string, timeoutMs: number): Promise<boolean> {
  const lock = lockFilePid(dataDir);
  if (lock === 'unreadable') {
    const result = await runPgTool('pg_ctl', ['status', '-D', dataDir], { node: node.name, step: 'pg_ctl status', timeoutMs, okCodes: [3, 4] });
    return result.code === 0;
  }
  return lock !== undefined && processLives(lock);
}

/**
 * Removes postmaster.pid when the process it names is dead or a zombie: PostgreSQL itself (and pg_rewind's
 * single-user recovery) would take a zombie for a running postmaster and refuse to start.
 */
export function clearStaleLock(dataDir: string, port: number): void {
  const lock = lockFilePid(dataDir);
  if (typeof lock === 'number' && !processLives(lock)) rmSync(join(dataDir, 'postmaster.pid'), { force: true });
  // The Unix socket's lock file names the postmaster too, and is checked the same way.
  const socketDir = socketDirectory(dataDir);
  if (socketDir === '') return;
  const socketLock = lockFilePid(socketDir, `.s.PGSQL.${port}.lock`);
  if (typeof socketLock === 'number' && !processLives(socketLock)) {
    rmSync(join(socketDir, `.s.PGSQL.${port}.lock`), { force: true });
    rmSync(join(socketDir, `.s.PGSQL.${port}`), { force: true });
  }
}

function lockFilePid(dir: string, file = 'postmaster.pid'): number | undefined | 'unreadable' {
  try {
    const pid = Number(readFileSync(join(dir, file), 'utf8').split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unreadable';
  }
}

function processLives(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Starts the node's server with pg_ctl on its configured port and host (on the command line, which wins over whatever
 * configuration files pg_basebackup or pg_rewind copied from another node) and waits until it accepts connections.
 */
export async function startServer(node: ReplicationNode, dataDir: string, step: string, timeoutMs: number): Promise<void> {
  clearStaleLock(dataDir, node.port);
  const socketDir = socketDirectory(dataDir);
  const serverOptions = `-p ${node.port} -c listen_addresses=${shellQuote(node.host)} -c unix_socket_directories=${shellQuote(socketDir)}`;
  const logFile = serverLogFile(dataDir);
  const logStart = fileSize(logFile);
  try {
    await runPgTool('pg_ctl', ['start', '-w', '-t', String(Math.max(1, Math.ceil(timeoutMs / 1000))), '-D', dataDir, '-l', logFile, '-o', serverOptions],
      { node: node.name, step, timeoutMs: timeoutMs + 5_000 });
  } catch (error) {
    if (!(error instanceof ReplicationError)) throw error;
    // pg_ctl only says "examine the log output"; the reason is in the server's log.
    const log = readFromOffset(logFile, logStart).trim().split('\n').slice(-12).join('\n');
    throw new ReplicationError(error.reason, `${error.message}\n--- ${logFile} ---\n${log}`, { node: node.name, step, cause: error });
  }
}

/**
 * Stops the node's server: `fast` first, then `immediate`, then SIGKILL, each when the one before did not finish in
 * time. No-op when not running. Returns what was done.
 */
export async function stopServer(node: ReplicationNode, dataDir: string, step: string, timeoutMs: number, mode: 'fast' | 'immediate' = 'fast'): Promise<string[]> {
  if (!(await isServerRunning(node, dataDir, timeoutMs))) return [];
  const seconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
  try {
    await runPgTool('pg_ctl', ['stop', '-w', '-t', seconds(mode === 'fast' ? timeoutMs / 3 : timeoutMs / 2), '-D', dataDir, '-m', mode], { node: node.name, step, timeoutMs });
    return [`stopped (${mode})`];
  } catch {
    const done = [`${mode} stop did not finish`];
    if (mode === 'fast') {
      try {
        await runPgTool('pg_ctl', ['stop', '-w', '-t', seconds(timeoutMs / 3), '-D', dataDir, '-m', 'immediate'], { node: node.name, step, timeoutMs });
        return [...done, 'stopped (immediate)'];
      } catch {
        done.push('immediate stop did not finish');
      }
    }
    // A frozen server (SIGSTOP, a hung disk) never acts on the shutdown signals: SIGKILL reaches even a stopped process.
    await killServer(node, dataDir, step);
    return [...done, 'killed (SIGKILL)'];
  }
}

/** SIGKILL to the postmaster and every process under it, then waits (10 s at most) until they are gone. */
async function killServer(node: ReplicationNode, dataDir: string, step: string): Promise<void> {
  const pid = lockFilePid(dataDir);
  if (typeof pid !== 'number') throw new ReplicationError('failed', `${node.name}: ${step}: the server would not stop and its PID is unknown (postmaster.pid unreadable)`, { node: node.name, step });
  const all = [pid, ...childrenOf(pid)];
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + 10_000;
  while (all.some(processLives)) {
    if (Date.now() > deadline) throw new ReplicationError('timeout', `${node.name}: ${step}: processes of the server did not exit after SIGKILL`, { node: node.name, step });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  clearStaleLock(dataDir, node.port);
}

/** Every process below `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Ended while listing.
    }
  }
  const out: number[] = [];
  for (let i = -1; i < out.length; i += 1) {
    const parent = i < 0 ? pid : out[i]!;
    for (const [child, ppid] of parents) if (ppid === parent && !out.includes(child)) out.push(child);
  }
  return out;
}

/** pg_controldata's fields by name ("Latest checkpoint location", "wal_log_hints setting", ...). */
export async function controlData(node: ReplicationNode, dataDir: string, timeoutMs: number): Promise<Map<string, string>> {
  const { stdout } = await runPgTool('pg_controldata', ['-D', dataDir], { node: node.name, step: 'pg_controldata', timeoutMs });
  const fields = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return fields;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFromOffset(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '(no server log)';
  }
}

function baseName(path: string): string {
  return path.replace(/\/+$/, '').split('/').pop() || 'data';
}
