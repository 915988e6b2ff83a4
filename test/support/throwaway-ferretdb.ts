import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { freePort } from './free-port.js';
import { cleanupAtExit, ServerProcess } from './server-process.js';

const HOST = '127.0.0.1';

/** Why a FerretDB could not be started or stopped: `missing-binary`, `exited` (during start), `timeout`. */
export class FerretdbServerError extends Error {
  override readonly name = 'FerretdbServerError';
  constructor(readonly reason: 'missing-binary' | 'exited' | 'timeout', message: string) {
    super(message);
  }
}

/**
 * The ferretdb binary: DATAKEEP_TEST_FERRETDB, else where `go install` puts it (GOBIN, else GOPATH/bin, as .ci/run
 * installs it), else the PATH. Undefined when there is none (the MongoDB suites then skip, saying so).
 */
export function ferretdbBinary(): string | undefined {
  const candidates: string[] = [];
  if (process.env.DATAKEEP_TEST_FERRETDB) return process.env.DATAKEEP_TEST_FERRETDB;
  const go = spawnSync('go', ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  if (go.status === 0) {
    const [gobin, gopath] = go.stdout.split('\n');
    if (gobin) candidates.push(join(gobin, 'ferretdb'));
    for (const path of (gopath ?? '').split(delimiter).filter(Boolean)) candidates.push(join(path, 'bin', 'ferretdb'));
  }
  candidates.push(join(homedir(), 'go', 'bin', 'ferretdb'));
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) candidates.push(join(dir, 'ferretdb'));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface ThrowawayFerretdbOptions {
  /** Label for the temp directory. */
  name?: string;
  /** Bound on start and stop (default 20 s). */
  timeoutMs?: number;
  /** Extra flags, e.g. `--test-capped-cleanup-interval=1s` (capped collections are trimmed once a minute by default). */
  args?: readonly string[];
}

/**
 * A FerretDB (MongoDB wire protocol) of its own on a free port of 127.0.0.1, on the SQLite backend in a temp
 * directory: no other server needed, and the directory belongs to this process's user, so the server can write it.
 * FerretDB 1.x is a standalone: no transactions, no replica set, no change streams (tests of those skip).
 * `stop()` ends it by PID (SIGTERM, SIGKILL after the limit) and removes the directory; an exit hook does the same
 * for what a crashed test left behind.
 */
export class ThrowawayFerretdb {
  readonly dir: string;
  readonly binary: string;
  #port = 0;
  #process: ServerProcess | undefined;
  #forget: () => void = () => undefined;
  readonly #timeoutMs: number;
  readonly #args: readonly string[];

  private constructor(binary: string, options: ThrowawayFerretdbOptions) {
    this.binary = binary;
    this.#timeoutMs = options.timeoutMs ?? 20_000;
    this.#args = options.args ?? [];
    const label = (options.name ?? 'ferretdb').replace(/[^A-Za-z0-9_-]/g, '_');
    this.dir = mkdtempSync(join(tmpdir(), `dk-${label}-`));
    mkdirSync(join(this.dir, 'data'));
    mkdirSync(join(this.dir, 'state'));
  }

  /** Starts one on a free port (another port is tried when a process took the first one meanwhile). */
  static async start(options: ThrowawayFerretdbOptions = {}): Promise<ThrowawayFerretdb> {
    const binary = ferretdbBinary();
    if (!binary) throw new FerretdbServerError('missing-binary', 'no ferretdb binary: install it with `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` (as .ci/run does) or set DATAKEEP_TEST_FERRETDB');
    const server = new ThrowawayFerretdb(binary, options);
    server.#forget = cleanupAtExit(() => server.killNow());
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        await server.#launch(await freePort(HOST));
        return server;
      } catch (error) {
        lastError = error;
        await server.#process?.terminate('SIGKILL', server.#timeoutMs);
        if (error instanceof FerretdbServerError && error.reason === 'timeout') break;
      }
    }
    server.#cleanup();
    throw lastError;
  }

  get port(): number {
    return this.#port;
  }
  get pid(): number | undefined {
    return this.#process?.running ? this.#process.pid : undefined;
  }
  /** A connection string for the driver (a standalone: no replicaSet). */
  get url(): string {
    return `mongodb://${HOST}:${this.#port}/`;
  }
  get logFile(): string {
    return join(this.dir, 'ferretdb.log');
  }

  /** Stops the server by PID and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    await this.#process?.terminate('SIGTERM', this.#timeoutMs);
    this.#cleanup();
  }

  /** Kills the server by PID (default SIGKILL: a crash) and waits until it has exited; its data stays. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.#process?.terminate(signal, this.#timeoutMs);
  }

  /** Starts it again on the same port, on the same data, after kill(). */
  async restart(): Promise<void> {
    if (this.#process?.running) throw new Error('ThrowawayFerretdb: restart() while running; kill() it first');
    await this.#launch(this.#port);
  }

  /** For exit hooks: SIGKILL by PID and remove the directory, synchronously. */
  killNow(): void {
    this.#process?.signal('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #launch(port: number): Promise<void> {
    this.#port = port;
    const args = [
      `--listen-addr=${HOST}:${port}`,
      '--handler=sqlite',
      `--sqlite-url=file:${join(this.dir, 'data')}/`,
      `--state-dir=${join(this.dir, 'state')}`,
      '--telemetry=disable',
      // No second listener (the debug/metrics one defaults to a fixed port, which parallel servers would fight over).
      '--debug-addr=-',
      '--log-level=warn',
      ...this.#args,
    ];
    const server = new ServerProcess(this.binary, args, this.logFile);
    this.#process = server;
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      if (!server.running) throw new FerretdbServerError('exited', `ferretdb exited during start on port ${port}; log:\n${this.#logTail()}`);
      if (await this.#answers()) return;
      if (Date.now() > deadline) throw new FerretdbServerError('timeout', `ferretdb did not answer ping on port ${port} within ${this.#timeoutMs} ms; log:\n${this.#logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #answers(): Promise<boolean> {
    const client = new MongoClient(this.url, { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500, directConnection: true });
    try {
      await client.db('admin').command({ ping: 1 });
      return true;
    } catch {
      return false;
    } finally {
      await client.close().catch(() => undefined);
    }
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
}
