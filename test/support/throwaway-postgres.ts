import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { freePort } from './free-port.js';

const execFileAsync = promisify(execFile);

/** Where Debian's postgresql-15 package puts the server binaries. Override with DATAKEEP_TEST_PG_BIN. */
export const PG_BIN_DIR = process.env.DATAKEEP_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const HOST = '127.0.0.1';
const INCLUDE_FILE = 'datakeep-throwaway.conf';

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

export interface ThrowawayPostgresOptions {
  /** Short label used in the temp directory name, to tell clusters apart in `ps` and /tmp. */
  name?: string;
  /** Lines appended to the cluster's configuration, after the defaults (so they win): `archive_mode = on`, ... */
  config?: readonly string[];
  /** pg_hba.conf lines placed before the defaults (first match wins), e.g. `hostnossl all all 127.0.0.1/32 reject`. */
  hba?: readonly string[];
  /** Generate a CA and a server certificate for localhost/127.0.0.1 and turn `ssl` on. */
  tls?: boolean;
  /** Extra initdb arguments, e.g. `--data-checksums`. */
  initdbArgs?: readonly string[];
  /**
   * Fills the (empty, postgres-owned, mode 0700) data directory instead of initdb, e.g. with pg_basebackup for a
   * replica (use `runAsPostgres`). The class still writes its include file, pg_hba.conf and TLS files afterwards.
   */
  populate?: (cluster: ThrowawayPostgres) => Promise<void>;
  /** Bound on start and stop (default 30 s). */
  timeoutMs?: number;
}

export interface ThrowawayTls {
  /** PEM file of the self-signed CA that signed the server certificate: give it as `ssl.ca`. */
  readonly caFile: string;
  readonly caPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Clusters not yet destroyed, killed synchronously if the test process exits without destroying them. */
const live = new Set<ThrowawayPostgres>();
let exitHooksInstalled = false;

/**
 * A PostgreSQL 15 cluster of its own for one test file: a temp directory, a free port on 127.0.0.1, a Unix socket
 * inside the temp directory, trust authentication. Faults are injected on the real processes (stop, SIGKILL, SIGSTOP).
 * `destroy()` removes everything; a process 'exit' hook does the same if a test crashes first.
 *
 * @example
 * const cluster = await ThrowawayPostgres.start({ tls: true, config: ['max_prepared_transactions = 10'] });
 * try { ... cluster.config ... cluster.tls!.caFile ... } finally { await cluster.destroy(); }
 */
export class ThrowawayPostgres {
  readonly options: ThrowawayPostgresOptions;
  #root: string | undefined;
  #port: number | undefined;
  #everStarted = false;
  #paused = false;
  #tls: ThrowawayTls | undefined;
  #initializing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  constructor(options: ThrowawayPostgresOptions = {}) {
    this.options = Object.freeze({ ...options });
  }

  /** Creates, initialises and starts a cluster; destroys it again if any step fails. */
  static async start(options: ThrowawayPostgresOptions = {}): Promise<ThrowawayPostgres> {
    const cluster = new ThrowawayPostgres(options);
    try {
      await cluster.start();
      return cluster;
    } catch (error) {
      await cluster.destroy().catch(() => undefined);
      throw error;
    }
  }

  /** The temp directory holding data/, sock/, tls/ and server.log; owned by postgres. */
  get root(): string {
    if (this.#root === undefined) throw new Error('ThrowawayPostgres: call init() or start() first');
    return this.#root;
  }
  get dataDir(): string {
    return join(this.root, 'data');
  }
  get socketDir(): string {
    return join(this.root, 'sock');
  }
  get logFile(): string {
    return join(this.root, 'server.log');
  }
  get host(): string {
    return HOST;
  }
  get port(): number {
    if (this.#port === undefined) throw new Error('ThrowawayPostgres: call init() or start() first');
    return this.#port;
  }
  get url(): string {
    return `postgres://postgres@${HOST}:${this.port}/postgres`;
  }
  /** A datakeep configuration for the `postgres` database, without TLS (pg_hba also allows plain `host`). */
  get config(): DatabaseConfig {
    return { type: 'postgresql', host: HOST, port: this.port, database: 'postgres', username: 'postgres' };
  }
  /** Certificate files when the cluster was created with `tls: true`. */
  get tls(): ThrowawayTls | undefined {
    return this.#tls;
  }
  get paused(): boolean {
    return this.#paused;
  }

  /** Creates the directory and the data directory (initdb or `populate`); idempotent. Does not start. */
  init(): Promise<void> {
    if (this.#destroying) return Promise.reject(new Error('ThrowawayPostgres: init() after destroy()'));
    this.#initializing ??= this.#init();
    return this.#initializing;
  }

  async #init(): Promise<void> {
    const { uid, gid } = postgresUser();
    const label = (this.options.name ?? 'pg').replace(/[^A-Za-z0-9_-]/g, '_');
    const root = mkdtempSync(join(tmpdir(), `dk-${label}-`));
    this.#root = root;
    live.add(this);
    installExitHooks();
    this.#port = await freePort(HOST);
    for (const dir of [root, join(root, 'sock'), join(root, 'data')]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      chownSync(dir, uid, gid);
    }
    if (this.options.populate) {
      await this.options.populate(this);
    } else {
      // initdb takes seconds; a copy of one initdb'd directory per process and argument list takes a fraction.
      const template = await initdbTemplate(this.options.initdbArgs ?? []);
      await execFileAsync('cp', ['-a', `${template}/.`, this.dataDir]);
    }
    if (this.options.tls) this.#tls = await generateTls(join(root, 'tls'), uid, gid);
    this.#writeConfig(uid, gid);
  }

  #writeConfig(uid: number, gid: number): void {
    const confPath = join(this.dataDir, 'postgresql.conf');
    const includeLine = `include_if_exists '${INCLUDE_FILE}'`;
    if (!readFileSync(confPath, 'utf8').includes(includeLine)) appendFileSync(confPath, `\n${includeLine}\n`);
    const lines = [
      '# Written by test/support/throwaway-postgres.ts; port, listen_addresses and the socket directory are on the',
      '# command line so that a copy of this data directory (pg_basebackup) gets its own.',
      // Only an OS crash needs fsync; the faults tests inject (SIGKILL, SIGSTOP) keep the page cache.
      'fsync = off',
      'shared_buffers = 32MB',
      'max_connections = 50',
      "log_line_prefix = '%m [%p] %q%a '",
      ...(this.#tls ? ['ssl = on', `ssl_cert_file = '${this.#tls.certFile}'`, `ssl_key_file = '${this.#tls.keyFile}'`] : []),
      ...(this.options.config ?? []),
    ];
    const includePath = join(this.dataDir, INCLUDE_FILE);
    writeFileSync(includePath, `${lines.join('\n')}\n`, { mode: 0o600 });
    chownSync(includePath, uid, gid);

    const hba = [
      ...(this.options.hba ?? []),
      'local all all trust',
      'local replication all trust',
      ...(this.#tls ? [`hostssl all all ${HOST}/32 trust`, `hostssl replication all ${HOST}/32 trust`] : []),
      `host all all ${HOST}/32 trust`,
      `host replication all ${HOST}/32 trust`,
    ];
    const hbaPath = join(this.dataDir, 'pg_hba.conf');
    writeFileSync(hbaPath, `${hba.join('\n')}\n`, { mode: 0o600 });
    chownSync(hbaPath, uid, gid);
  }

  /** Appends configuration lines to the include file; they apply at the next start (or `reload()` for sighup ones). */
  appendConfig(lines: readonly string[]): void {
    appendFileSync(join(this.dataDir, INCLUDE_FILE), `${lines.join('\n')}\n`);
  }

  /**
   * A directory under `root` that the server can write (a WAL archive, a base backup target); removed with the cluster.
   * Call after init(), e.g. init() → ownedDir('archive') → appendConfig([archive_command ...]) → start().
   */
  ownedDir(name: string): string {
    const { uid, gid } = postgresUser();
    const dir = join(this.root, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, uid, gid);
    return dir;
  }

  /** Runs a PostgreSQL binary (a name in PG_BIN_DIR or an absolute path) as the postgres user; returns stdout. */
  runAsPostgres(binary: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
    return runAsPostgres(this.#root ?? '/', binary, args, options.timeoutMs ?? this.#timeoutMs() + 5_000);
  }

  /** The postmaster's PID from postmaster.pid, or undefined when no postmaster is alive. */
  pid(): number | undefined {
    if (this.#root === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8');
    } catch {
      return undefined;
    }
    const pid = Number(text.split('\n', 1)[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    // A stale lock file (after a crash we did not cause) may name a PID since reused by an unrelated process, which
    // must never receive our signals: the postmaster's command line names this data directory.
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(this.dataDir)) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  isRunning(): boolean {
    return this.pid() !== undefined;
  }

  /** Starts the server (initialising first if needed) and waits until it accepts connections. No-op if running. */
  async start(): Promise<void> {
    await this.init();
    if (this.isRunning()) return;
    for (let attempt = 1; ; attempt += 1) {
      const logOffset = fileSize(this.logFile);
      try {
        await this.runAsPostgres('pg_ctl', [
          'start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', String(Math.ceil(this.#timeoutMs() / 1000)),
          '-o', `-p ${this.port} -k ${this.socketDir} -c listen_addresses=${HOST}`,
        ]);
        break;
      } catch (error) {
        const log = readFrom(this.logFile, logOffset);
        // freePort() only says the port was free a moment ago; before the first start, another one can be chosen.
        if (!this.#everStarted && attempt < 3 && /could not bind|Address already in use/i.test(log)) {
          this.#port = await freePort(HOST);
          continue;
        }
        throw new Error(`${(error as Error).message}\n--- server log ---\n${log.slice(-4000)}`, { cause: error });
      }
    }
    this.#everStarted = true;
    this.#paused = false;
    await this.waitUntilReady();
  }

  /** Polls with real connections until one succeeds, or throws after `timeoutMs`. */
  async waitUntilReady(timeoutMs = this.#timeoutMs()): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const client = new pg.Client({ host: HOST, port: this.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch (error) {
        last = error;
      } finally {
        await client.end().catch(() => undefined);
      }
      await delay(100);
    }
    throw new Error(`ThrowawayPostgres: port ${this.port} not accepting connections after ${timeoutMs} ms (${String(last)})\n${this.logTail()}`);
  }

  /** pg_ctl stop in the given mode (default fast); resumes a paused cluster first. Falls back to kill(). No-op if stopped. */
  async stop(mode: ShutdownMode = 'fast'): Promise<void> {
    if (!this.isRunning()) return;
    if (this.#paused) this.resume();
    try {
      await this.runAsPostgres('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', String(Math.ceil(this.#timeoutMs() / 1000))]);
    } catch {
      await this.kill();
    }
  }

  async restart(mode: ShutdownMode = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /**
   * SIGKILL to the postmaster (a crash): its backends notice and exit; this waits until they all have, so that
   * `start()` can run crash recovery at once.
   */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    const children = descendants(pid);
    signal(pid, 'SIGKILL');
    // A stopped backend cannot notice that its postmaster died.
    if (this.#paused) for (const child of children) signal(child, 'SIGCONT');
    this.#paused = false;
    const deadline = Date.now() + 10_000;
    while ([pid, ...children].some(isAlive)) {
      if (Date.now() > deadline) {
        for (const child of children) signal(child, 'SIGKILL');
      }
      await delay(20);
    }
    // The dead postmaster may linger as a zombie until init reaps it, and its PID in the lock files would then make
    // the next postmaster believe another one is running. Every process of the cluster is dead, so they are stale.
    // The socket lock file names the PID too.
    rmSync(join(this.dataDir, 'postmaster.pid'), { force: true });
    rmSync(join(this.socketDir, `.s.PGSQL.${this.port}.lock`), { force: true });
    rmSync(join(this.socketDir, `.s.PGSQL.${this.port}`), { force: true });
  }

  /** SIGSTOP to the postmaster and every process under it: the server freezes but its sockets stay open. */
  pause(): void {
    const pid = this.pid();
    if (pid === undefined) throw new Error('ThrowawayPostgres: pause() on a cluster that is not running');
    // The postmaster first, so that it forks nothing new while the others are being stopped.
    signal(pid, 'SIGSTOP');
    for (const child of descendants(pid)) signal(child, 'SIGSTOP');
    this.#paused = true;
  }

  /** SIGCONT to the postmaster and its children. */
  resume(): void {
    const pid = this.pid();
    if (pid === undefined) return;
    for (const child of descendants(pid)) signal(child, 'SIGCONT');
    signal(pid, 'SIGCONT');
    this.#paused = false;
  }

  /** Reloads the configuration (pg_hba.conf and sighup settings). */
  async reload(): Promise<void> {
    await this.runAsPostgres('pg_ctl', ['reload', '-D', this.dataDir]);
  }

  /** A connected pg.Client for administration (no TLS); the caller ends it. */
  async connect(database = 'postgres'): Promise<pg.Client> {
    const client = new pg.Client({ host: HOST, port: this.port, user: 'postgres', database, connectionTimeoutMillis: 5_000 });
    // The tests here kill servers on purpose; an unhandled 'error' event would crash the test process.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** One statement on a short-lived admin connection. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<R[]> {
    const client = await this.connect(database);
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The last lines of the server log, for failure messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no server log)';
    }
  }

  /** Stops the server (immediate) and removes the directory. Idempotent; never throws for an already-gone cluster. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      try {
        if (this.#initializing) await this.#initializing.catch(() => undefined);
        if (this.isRunning()) await this.stop('immediate');
      } finally {
        if (this.isRunning()) killSync(this);
        if (this.#root !== undefined) rmSync(this.#root, { recursive: true, force: true });
        live.delete(this);
      }
    })();
    return this.#destroying;
  }

  #timeoutMs(): number {
    return this.options.timeoutMs ?? 30_000;
  }
}

async function runAsPostgres(cwd: string, binary: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const file = binary.startsWith('/') ? binary : join(PG_BIN_DIR, binary);
  const [cmd, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, [...args]];
  try {
    // cwd: postgres cannot enter the caller's directory when that belongs to root.
    const { stdout } = await execFileAsync(cmd as string, argv as string[], { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${binary} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: error });
  }
}

/** initdb'd data directories of this process, by initdb argument list; removed by the exit hook. */
const templates = new Map<string, Promise<string>>();
let templateRoot: string | undefined;
let templateCount = 0;

function initdbTemplate(extraArgs: readonly string[]): Promise<string> {
  const key = JSON.stringify(extraArgs);
  let template = templates.get(key);
  if (!template) {
    template = (async () => {
      const { uid, gid } = postgresUser();
      if (templateRoot === undefined) {
        templateRoot = mkdtempSync(join(tmpdir(), 'dk-pg-template-'));
        chownSync(templateRoot, uid, gid);
        installExitHooks();
      }
      templateCount += 1;
      const dataDir = join(templateRoot, `data-${templateCount}`);
      await runAsPostgres(templateRoot, 'initdb', [
        '-D', dataDir, '--auth=trust', '-U', 'postgres', '--no-sync', '--encoding=UTF8', '--locale=C', ...extraArgs,
      ], 60_000);
      return dataDir;
    })();
    template.catch(() => templates.delete(key));
    templates.set(key, template);
  }
  return template;
}

/**
 * Runs from process 'exit' (synchronous code only) and from fatal signals: immediate shutdown by PID, then SIGKILL
 * to whatever is left, then the directory.
 */
function killSync(cluster: ThrowawayPostgres): void {
  const pid = cluster.pid();
  if (pid !== undefined) {
    const children = descendants(pid);
    for (const p of [pid, ...children]) signal(p, 'SIGCONT');
    signal(pid, 'SIGQUIT');
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) sleepSync(20);
    for (const p of [pid, ...children]) if (isAlive(p)) signal(p, 'SIGKILL');
  }
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const cleanupAll = () => {
    for (const cluster of live) {
      try {
        killSync(cluster);
        rmSync(cluster.root, { recursive: true, force: true });
      } catch {
        // Exit paths must not throw; the next cluster still deserves its cleanup.
      }
    }
    live.clear();
    if (templateRoot !== undefined) rmSync(templateRoot, { recursive: true, force: true });
  };
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const handler = () => {
      cleanupAll();
      process.removeListener(sig, handler);
      // Re-raise so that the process ends the way it would have without this hook (exit code 128 + signal).
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/** A CA and a server certificate for localhost/127.0.0.1 (EC P-256, 2 days) in `dir`, owned by uid:gid. */
export async function generateTls(dir: string, uid: number, gid: number): Promise<ThrowawayTls> {
  mkdirSync(dir, { mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ecKey, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=datakeep throwaway test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(['req', ...ecKey, '-keyout', keyFile, '-out', csr, '-subj', '/CN=localhost']);
  writeFileSync(ext, [
    'basicConstraints = CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1',
  ].join('\n'));
  await openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  chownSync(dir, uid, gid);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    chownSync(path, uid, gid);
    // PostgreSQL refuses a private key that others can read.
    chmodSync(path, name.endsWith('.key') ? 0o600 : 0o644);
  }
  return Object.freeze({ caFile, caPem: readFileSync(caFile, 'utf8'), certFile, keyFile });
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed (is openssl installed? apt-get install openssl): ${(e.stderr || e.message).trim()}`, { cause: error });
  }
}

let cachedUser: { uid: number; gid: number } | undefined;
function postgresUser(): { uid: number; gid: number } {
  if (cachedUser) return cachedUser;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('ThrowawayPostgres: no "postgres" user on this machine; install postgresql-15');
  const [, , uid, gid] = line.split(':');
  cachedUser = { uid: Number(uid), gid: Number(gid) };
  return cachedUser;
}

/** Parent PIDs and states of every process, from /proc. */
function processTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name is in parentheses and may itself contain spaces or parentheses.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { state: rest[0] ?? '?', ppid: Number(rest[1]) });
    } catch {
      // The process ended while we listed /proc.
    }
  }
  return table;
}

export function descendants(pid: number): number[] {
  const table = processTable();
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, info] of table) {
      if (info.ppid === parent && !out.includes(child)) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** True for a running or stopped process; false for a missing or zombie one. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
