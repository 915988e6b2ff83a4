// Node child processes of a benchmark (a script run through tsx), each stopped by its PID: SIGTERM, then SIGKILL after
// a bound; a process 'exit' hook kills whatever is still running if the benchmark dies first.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const live = new Set<ChildProcess>();
let hookInstalled = false;

export class BenchChild {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  readonly logFile: string;

  /** Runs `node --import tsx script ...args`; stderr and stdout other than "ready" go to `logFile`. */
  constructor(script: string, args: readonly string[], logFile: string) {
    this.logFile = logFile;
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    this.#child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    if (!hookInstalled) {
      hookInstalled = true;
      process.on('exit', () => {
        for (const c of live) c.kill('SIGKILL');
      });
    }
    child.stderr!.on('data', (d: Buffer) => appendFileSync(logFile, d));
    this.#ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line === 'ready') resolve();
        else appendFileSync(logFile, `${line}\n`);
      });
      child.once('exit', (code, sig) => reject(new Error(`${script} exited (${sig ?? code}) before it was ready; see ${logFile}`)));
    });
    this.#ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves when the child printed "ready"; rejects when it exits first or after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.#ready, new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms; see ${this.logFile}`)), timeoutMs);
      })]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (the child cleans up), SIGKILL after `timeoutMs`; resolves once it has exited. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL at once (a crash); resolves once it has exited. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGKILL');
    await exited;
  }
}
