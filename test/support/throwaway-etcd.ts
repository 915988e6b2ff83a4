import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { cleanupAtExit, ServerProcess } from './server-process.js';

const HOST = '127.0.0.1';
/** The etcd binary (Debian etcd-server); override with DATAKEEP_TEST_ETCD. */
export const ETCD_BINARY = process.env.DATAKEEP_TEST_ETCD ?? 'etcd';

export interface ThrowawayEtcdOptions {
  /** Label for the temp directory, to tell instances apart in /tmp. */
  name?: string;
  /** Bound on start, health and stop (default 15 s). */
  timeoutMs?: number;
}

/**
 * A single-member etcd of its own for one test: a temp directory holding its data and log, free client and peer
 * ports on 127.0.0.1. Faults are injected on the real process by PID: `kill()` (SIGKILL), `pause()` (SIGSTOP),
 * `resume()`; `restart()` starts it again on the same ports with the same data. `stop()` ends it by PID and removes
 * the directory; a process 'exit' hook kills what a crashed test left behind.
 */
export class ThrowawayEtcd {
  readonly options: ThrowawayEtcdOptions;
  readonly dir: string;
  #clientPort = 0;
  #peerPort = 0;
  #process: ServerProcess | undefined;
  #paused = false;
  #forget: () => void = () => undefined;

  private constructor(options: ThrowawayEtcdOptions) {
    this.options = options;
    const label = (options.name ?? 'etcd').replace(/[^A-Za-z0-9_-]/g, '_');
    this.dir = mkdtempSync(join(tmpdir(), `dk-${label}-`));
  }

  /** Starts a member on free ports (new ports are tried when another process took one first). */
  static async start(options: ThrowawayEtcdOptions = {}): Promise<ThrowawayEtcd> {
    const instance = new ThrowawayEtcd(options);
    instance.#forget = cleanupAtExit(() => instance.#killNow());
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        instance.#clientPort = await freePort(HOST);
        instance.#peerPort = await freePort(HOST);
        await instance.#launch();
        return instance;
      } catch (error) {
        lastError = error;
        await instance.#terminate('SIGKILL');
        rmSync(join(instance.dir, 'data'), { recursive: true, force: true });
      }
    }
    instance.#cleanup();
    throw lastError;
  }

  get host(): string {
    return HOST;
  }
  get port(): number {
    return this.#clientPort;
  }
  /** The client URL, as EtcdAuthorityConfig.endpoints takes it. */
  get endpoint(): string {
    return `http://${HOST}:${this.#clientPort}`;
  }
  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get logFile(): string {
    return join(this.dir, 'etcd.log');
  }

  /** Sends a signal by PID (default SIGKILL, a crash) and waits until the process has exited (bounded). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.#terminate(signal);
  }

  /** SIGSTOP: the server freezes with its sockets open, as a hung or partitioned member looks to its clients. */
  pause(): void {
    if (!this.#process?.running) throw new Error('ThrowawayEtcd: pause() while not running');
    this.#process.signal('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    this.#process?.signal('SIGCONT');
    this.#paused = false;
  }

  /** Starts the member again (after kill) on the same ports, with the same data directory. */
  async restart(): Promise<void> {
    if (this.#process?.running) throw new Error('ThrowawayEtcd: restart() while running; kill() it first');
    await this.#launch();
  }

  /** Stops the server by PID (SIGTERM, then SIGKILL after the timeout) and removes its directory. */
  async stop(): Promise<void> {
    await this.#terminate('SIGTERM');
    this.#cleanup();
  }

  async #launch(): Promise<void> {
    const client = `http://${HOST}:${this.#clientPort}`;
    const peer = `http://${HOST}:${this.#peerPort}`;
    const args = [
      '--name', 'dk',
      '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `dk=${peer}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    const server = new ServerProcess(ETCD_BINARY, args, this.logFile);
    this.#process = server;
    this.#paused = false;
    const deadline = Date.now() + this.#timeoutMs();
    for (;;) {
      if (!server.running) throw new Error(`etcd exited during start on port ${this.#clientPort}; log:\n${this.logTail()}`);
      if (await this.healthy(1000)) return;
      if (Date.now() > deadline) {
        throw new Error(`etcd did not report healthy on ${client} within ${this.#timeoutMs()} ms; log:\n${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** GET /health answered {"health":"true"} within `timeoutMs`. */
  async healthy(timeoutMs = 1000): Promise<boolean> {
    try {
      const response = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await response.json()) as { health?: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    await this.#process?.terminate(signal, this.#timeoutMs());
    this.#paused = false;
  }

  #cleanup(): void {
    this.#forget();
    rmSync(this.dir, { recursive: true, force: true });
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  #timeoutMs(): number {
    return this.options.timeoutMs ?? 15_000;
  }

  /** For the exit hook: kill synchronously, no waiting. */
  #killNow(): void {
    this.#process?.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
