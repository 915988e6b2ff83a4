import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { freePort } from './free-port.js';
import { cleanupAtExit, ServerProcess } from './server-process.js';

const HOST = '127.0.0.1';
/** The redis-server binary; override with DATAKEEP_TEST_REDIS_SERVER. */
export const REDIS_SERVER = process.env.DATAKEEP_TEST_REDIS_SERVER ?? 'redis-server';

export interface ThrowawayRedisOptions {
  /** Label for the temp directory, to tell instances apart in /tmp. */
  name?: string;
  /** Extra configuration lines (`requirepass secret`, `replicaof 127.0.0.1 6400`, `sentinel monitor ...`). */
  config?: readonly string[];
  /** Start as a Sentinel (`redis-server CONF --sentinel`). */
  sentinel?: boolean;
  /** Also listen for TLS on `tlsPort`, with a fresh CA and a server certificate for 127.0.0.1 and localhost. */
  tls?: boolean;
  /** Bound on start and stop (default 15 s). */
  timeoutMs?: number;
}

/**
 * A redis-server (or Sentinel) of its own for one test: a temp directory holding its config file and log, a free
 * port on 127.0.0.1, no persistence. Faults are injected on the real process by PID (`kill('SIGKILL')`).
 * `stop()` ends it by PID and removes the directory; a process 'exit' hook kills what a crashed test left behind.
 */
export class ThrowawayRedis {
  readonly options: ThrowawayRedisOptions;
  readonly dir: string;
  #port = 0;
  #tlsPort = 0;
  #caPem: string | undefined;
  #process: ServerProcess | undefined;
  #forget: () => void = () => undefined;

  private constructor(options: ThrowawayRedisOptions) {
    this.options = options;
    const label = (options.name ?? (options.sentinel ? 'sentinel' : 'redis')).replace(/[^A-Za-z0-9_-]/g, '_');
    this.dir = mkdtempSync(join(tmpdir(), `dk-${label}-`));
  }

  /** Starts an instance on a free port (a new port is tried when another process took it first). */
  static async start(options: ThrowawayRedisOptions = {}): Promise<ThrowawayRedis> {
    const instance = new ThrowawayRedis(options);
    instance.#forget = cleanupAtExit(() => instance.killNow());
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        await instance.#launch(await freePort(HOST));
        return instance;
      } catch (error) {
        lastError = error;
        await instance.#terminate('SIGKILL');
      }
    }
    instance.#cleanup();
    throw lastError;
  }

  get host(): string {
    return HOST;
  }
  get port(): number {
    return this.#port;
  }
  /** The TLS port when started with `tls: true` (the plain `port` stays open for setup and assertions). */
  get tlsPort(): number {
    return this.#tlsPort;
  }
  /** PEM of the CA that signed the server certificate (`tls: true`): give it as `ssl.ca`. */
  get caPem(): string | undefined {
    return this.#caPem;
  }
  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }
  get logFile(): string {
    return join(this.dir, 'redis.log');
  }
  /** A datakeep configuration for db 0 of this instance. */
  get config(): DatabaseConfig {
    return { type: 'redis', host: HOST, port: this.port, database: '0' };
  }

  /** Sends a signal to the server by PID and waits until it has exited (bounded). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.#terminate(signal);
  }

  /** Sends a signal without waiting for an exit: SIGSTOP pauses the process, SIGCONT resumes it. */
  signal(signal: NodeJS.Signals): void {
    this.#process?.signal(signal);
  }

  /** Starts the server again on the same port (after kill), with the same config file. */
  async restart(): Promise<void> {
    if (this.#process?.running) throw new Error('ThrowawayRedis: restart() while running; kill() it first');
    await this.#launch(this.#port);
  }

  /** Stops the server by PID (SIGTERM, then SIGKILL after the timeout) and removes its directory. */
  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
    this.#cleanup();
  }

  /** Sends one inline command over a plain socket and returns the raw reply text (for setup and assertions). */
  rawCommand(line: string, timeoutMs = 5000): Promise<string> {
    return rawCommand(this.port, line, timeoutMs);
  }

  async #launch(port: number): Promise<void> {
    this.#port = port;
    const confFile = join(this.dir, 'redis.conf');
    // On restart keep the file: a Sentinel rewrites it with what it learned (the current master, known peers).
    if (!this.#launchedBefore()) {
      const tlsLines = this.options.tls ? await this.#tlsConfig() : [];
      const lines = [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${this.dir}`,
        'protected-mode no',
        ...(this.options.sentinel ? [] : ['save ""', 'appendonly no']),
        ...tlsLines,
        ...(this.options.config ?? []),
      ];
      writeFileSync(confFile, `${lines.join('\n')}\n`);
    }
    const server = new ServerProcess(REDIS_SERVER, [confFile, ...(this.options.sentinel ? ['--sentinel'] : [])], this.logFile);
    this.#process = server;
    const deadline = Date.now() + this.#timeoutMs();
    for (;;) {
      if (!server.running) throw new Error(`redis-server exited during start on port ${port}; log:\n${this.#logTail()}`);
      try {
        // With requirepass the server answers NOAUTH, which proves it is up just as well.
        const reply = await rawCommand(port, 'PING', 1000);
        if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within ${this.#timeoutMs()} ms; log:\n${this.#logTail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #tlsConfig(): Promise<string[]> {
    this.#tlsPort = await freePort(HOST);
    const f = (name: string) => join(this.dir, name);
    const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=datakeep test CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr')]);
    writeFileSync(f('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('san.ext'), '-out', f('server.crt')]);
    this.#caPem = readFileSync(f('ca.crt'), 'utf8');
    return [`tls-port ${this.#tlsPort}`, `tls-cert-file ${f('server.crt')}`, `tls-key-file ${f('server.key')}`, `tls-ca-cert-file ${f('ca.crt')}`, 'tls-auth-clients no'];
  }

  #launchedBefore(): boolean {
    try {
      return readFileSync(join(this.dir, 'redis.conf'), 'utf8').includes(`port ${this.#port}\n`);
    } catch {
      return false;
    }
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    await this.#process?.terminate(signal, this.#timeoutMs());
  }

  #cleanup(): void {
    this.#forget();
    rmSync(this.dir, { recursive: true, force: true });
  }

  #logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  }

  #timeoutMs(): number {
    return this.options.timeoutMs ?? 15_000;
  }

  /** For the exit hook: kill synchronously, no waiting. */
  killNow(): void {
    this.#process?.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Sentinel deployment for failover tests: a master, `replicas` replicas (default 1) and three Sentinels (quorum 2,
 * down-after-milliseconds 1000 unless given), each its own process on its own free port.
 */
export class ThrowawaySentinelGroup {
  static readonly MASTER_NAME = 'dkmaster';

  private constructor(
    readonly master: ThrowawayRedis,
    readonly replicas: readonly ThrowawayRedis[],
    readonly sentinels: readonly ThrowawayRedis[],
  ) {}

  /** The first replica. */
  get replica(): ThrowawayRedis {
    return this.replicas[0]!;
  }

  /** The data nodes, master first (as started: after a failover the roles differ). */
  get nodes(): ThrowawayRedis[] {
    return [this.master, ...this.replicas];
  }

  static async start(options: { timeoutMs?: number; replicas?: number; downAfterMs?: number; failoverTimeoutMs?: number } = {}): Promise<ThrowawaySentinelGroup> {
    const started: ThrowawayRedis[] = [];
    const replicaCount = options.replicas ?? 1;
    try {
      const master = await ThrowawayRedis.start({ name: 'sentinel-master', timeoutMs: options.timeoutMs });
      started.push(master);
      const replicas: ThrowawayRedis[] = [];
      for (let i = 0; i < replicaCount; i += 1) {
        const replica = await ThrowawayRedis.start({ name: `sentinel-replica-${i}`, config: [`replicaof ${HOST} ${master.port}`], timeoutMs: options.timeoutMs });
        started.push(replica);
        replicas.push(replica);
      }
      await waitFor(
        async () => (await master.rawCommand('INFO replication')).split('state=online').length - 1 === replicaCount,
        options.timeoutMs ?? 15_000,
        'the replicas to come online',
      );
      const sentinels: ThrowawayRedis[] = [];
      for (let i = 0; i < 3; i += 1) {
        const sentinel = await ThrowawayRedis.start({
          name: `sentinel-${i}`,
          sentinel: true,
          timeoutMs: options.timeoutMs,
          config: [
            'sentinel resolve-hostnames no',
            `sentinel monitor ${ThrowawaySentinelGroup.MASTER_NAME} ${HOST} ${master.port} 2`,
            `sentinel down-after-milliseconds ${ThrowawaySentinelGroup.MASTER_NAME} ${options.downAfterMs ?? 1000}`,
            `sentinel failover-timeout ${ThrowawaySentinelGroup.MASTER_NAME} ${options.failoverTimeoutMs ?? 3000}`,
            `sentinel parallel-syncs ${ThrowawaySentinelGroup.MASTER_NAME} 1`,
          ],
        });
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      // Each Sentinel must know the replicas and the other Sentinels before a failover can be agreed on.
      await waitFor(
        async () => {
          for (const s of sentinels) {
            const reply = await s.rawCommand(`SENTINEL MASTER ${ThrowawaySentinelGroup.MASTER_NAME}`);
            const fields = reply.split('\r\n');
            const value = (name: string) => fields[fields.indexOf(name) + 2];
            if (value('num-slaves') !== String(replicaCount) || value('num-other-sentinels') !== '2') return false;
          }
          return true;
        },
        options.timeoutMs ?? 20_000,
        'the Sentinels to discover the replicas and each other',
      );
      return new ThrowawaySentinelGroup(master, replicas, sentinels);
    } catch (error) {
      await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
      throw error;
    }
  }

  /** Sentinel addresses in the shape of the redis adapter's `options.sentinels`. */
  get sentinelAddresses(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: s.host, port: s.port }));
  }

  async stop(): Promise<void> {
    await Promise.all([this.master, ...this.replicas, ...this.sentinels].map((s) => s.stop()));
  }
}

/** Polls `check` every 100 ms until it returns true, or throws after `timeoutMs` naming what it waited for. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One inline command over a plain socket; resolves with the reply once no more data arrives for 30 ms. */
export function rawCommand(port: number, line: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let data = '';
    let quiet: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${line.split(' ')[0]} on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        clearTimeout(timer);
        socket.destroy();
        resolve(data);
      }, 30);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      clearTimeout(quiet);
      reject(error);
    });
  });
}
