import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mariadb, { type Connection } from 'mariadb';
import { freePort } from './free-port.js';
import { cleanupAtExit, ServerProcess } from './server-process.js';

const HOST = '127.0.0.1';

/** The mysql OS user's ids when the tests run as root (mariadbd refuses to run as root without --user). */
function mysqlUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('mysql:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A mariadbd of its own for one test file: mariadb-install-db into a temp directory under /tmp (which the mysql OS
 * user can enter, whatever the checkout's permissions), binlog on (ROW, server_id), a free port on 127.0.0.1, root
 * without a password over TCP. Stopped by PID; a process 'exit' hook kills what a crashed test left behind.
 */
export class ThrowawayMariadb {
  readonly dir: string;
  readonly dataDir: string;
  #port = 0;
  #process: ServerProcess | undefined;
  #forget: () => void = () => undefined;

  private constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `dk-${name}-`));
    chmodSync(this.dir, 0o755);
    this.dataDir = join(this.dir, 'data');
  }

  static async start(name = 'mariadb', extra: readonly string[] = []): Promise<ThrowawayMariadb> {
    const server = new ThrowawayMariadb(name);
    server.#forget = cleanupAtExit(() => server.killNow());
    const user = mysqlUser();
    mkdirSync(server.dataDir);
    if (user) chownSync(server.dataDir, user.uid, user.gid);
    execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${server.dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...(user ? ['--user=mysql'] : [])], { stdio: 'pipe', timeout: 120_000 });
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await server.#launch(await freePort(HOST), extra);
        return server;
      } catch (error) {
        lastError = error;
        await server.#process?.terminate('SIGKILL', 5000);
      }
    }
    server.destroyNow();
    throw lastError;
  }

  get port(): number {
    return this.#port;
  }

  get running(): boolean {
    return this.#process?.running ?? false;
  }

  /** A database config for DataManager / the adapter. */
  config(database = 'mysql'): { type: 'mariadb'; host: string; port: number; database: string; username: string } {
    return { type: 'mariadb', host: HOST, port: this.#port, database, username: 'root' };
  }

  connect(port = this.#port): Promise<Connection> {
    return mariadb.createConnection({ host: HOST, port, user: 'root', connectTimeout: 10_000, multipleStatements: true, bigIntAsNumber: true, dateStrings: true });
  }

  /** Runs `text` (several statements allowed) on a connection of its own, on this server or a restored one at `port`. */
  async sql(text: string, port = this.#port): Promise<unknown> {
    const c = await this.connect(port);
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  }

  async #launch(port: number, extra: readonly string[]): Promise<void> {
    this.#port = port;
    const user = mysqlUser();
    const conf = join(this.dir, 'my.cnf');
    writeFileSync(conf, [
      '[mariadbd]', `datadir=${this.dataDir}`, `port=${port}`, 'bind-address=127.0.0.1', `socket=${join(this.dataDir, 's.sock')}`,
      `pid-file=${join(this.dataDir, 'mariadbd.pid')}`, `log_bin=${join(this.dataDir, 'binlog')}`, 'binlog_format=ROW', 'server_id=41',
      'innodb_buffer_pool_size=64M', 'innodb_log_file_size=32M', 'skip-name-resolve', ...extra, '',
    ].join('\n'));
    this.#process = new ServerProcess('mariadbd', [`--defaults-file=${conf}`, ...(user ? ['--user=mysql'] : [])], join(this.dir, 'server.log'));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!this.#process.running) throw new Error(`mariadbd exited while starting: ${readFileSync(join(this.dir, 'server.log'), 'utf8').slice(-800)}`);
      const ok = await this.connect().then(async (c) => { await c.end(); return true; }, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error('mariadbd did not accept connections within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops the server (SIGTERM by PID, clean shutdown), keeping its directory. */
  async stop(): Promise<void> {
    await this.#process?.terminate('SIGTERM', 60_000);
  }

  /** Kills the server by PID (default SIGKILL: a crash) and waits until it has exited, keeping its directory. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.#process?.terminate(signal, 10_000);
  }

  /** Starts it again on the same port after stop() or kill(). */
  async restart(): Promise<void> {
    await this.#launch(this.#port, []);
  }

  async destroy(): Promise<void> {
    await this.stop();
    this.destroyNow();
  }

  destroyNow(): void {
    this.#forget();
    rmSync(this.dir, { recursive: true, force: true });
  }

  killNow(): void {
    this.#process?.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
