import { spawn, type ChildProcess } from 'node:child_process';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';

/** `datakeep serve` started as a process of its own on a free port; stopped by its pid. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The first admin token it printed (undefined when the state store already had a token). */
  readonly adminToken: string | undefined;
  /** Every stdout line so far (the address, the token line, pino's JSON lines). */
  readonly stdout: string[];
  readonly stderr: string[];
  request(path: string, init?: { token?: string; method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  /** GET /readyz until 200, at most `limitMs` (a named error otherwise). */
  waitReady(limitMs?: number): Promise<void>;
  /** Sends `signal` and resolves with the exit code (SIGKILL after `limitMs`, then an error). */
  stop(signal?: NodeJS.Signals, limitMs?: number): Promise<number | null>;
}

/**
 * Starts the CLI's `serve --port 0` with `configFile` in `cwd`, and resolves once it printed the address it listens
 * on (and, on a fresh state store, the first admin token: both come before it is ready).
 */
export async function startServe(configFile: string, options: { cwd: string; env?: NodeJS.ProcessEnv; waitForToken?: boolean; limitMs?: number }): Promise<ServeProcess> {
  const [node, ...args] = datakeepCommandLine();
  const child = spawn(node!, [...args, 'serve', '--port', '0', '--config', configFile], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let url: string | undefined;
  let adminToken: string | undefined;
  let waiters: (() => void)[] = [];
  const lines = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      rest += chunk.toString('utf8');
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        into.push(line);
        url ??= /listening on (\S+)/.exec(line)?.[1];
        adminToken ??= /^first admin token: (dk_\S+)$/.exec(line)?.[1];
      }
      for (const w of waiters) w();
    };
  };
  child.stdout!.on('data', lines(stdout));
  child.stderr!.on('data', lines(stderr));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const limit = options.limitMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`datakeep serve printed no address within ${limit} ms:\n${stdout.join('\n')}\n${stderr.join('\n')}`)), limit);
    const check = () => {
      if (url && (!options.waitForToken || adminToken)) {
        clearTimeout(timer);
        resolve();
      }
    };
    waiters.push(check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`datakeep serve exited with ${code} before it listened:\n${stdout.join('\n')}\n${stderr.join('\n')}`));
    });
    check();
  });
  waiters = [];
  const base = url!;
  const process_: ServeProcess = {
    child, url: base, get adminToken() {
      return adminToken;
    }, stdout, stderr,
    request: (path, init = {}) => fetch(`${base}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
    async waitReady(limitMs = 60_000) {
      const deadline = Date.now() + limitMs;
      while (Date.now() < deadline) {
        if ((await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200) return;
        if (child.exitCode !== null) throw new Error(`datakeep serve exited with ${child.exitCode}:\n${stderr.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`datakeep serve was not ready within ${limitMs} ms:\n${stdout.join('\n')}`);
    },
    async stop(signal = 'SIGTERM', limitMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitMs)));
      const result = await Promise.race([exited, killed]);
      clearTimeout(timer);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`datakeep serve did not exit within ${limitMs} ms of ${signal}`);
      }
      return result;
    },
  };
  return process_;
}
