import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** Cleanups of throwaway servers not yet stopped, run synchronously if the test process exits without stopping them. */
const atExit = new Set<() => void>();
let hookInstalled = false;

/** Registers a synchronous cleanup (kill by PID, remove the directory) for process exit; returns its removal. */
export function cleanupAtExit(cleanup: () => void): () => void {
  if (!hookInstalled) {
    hookInstalled = true;
    process.once('exit', () => {
      for (const run of atExit) {
        try {
          run();
        } catch {
          // An exit path must not throw; the next server still deserves its cleanup.
        }
      }
    });
  }
  atExit.add(cleanup);
  return () => atExit.delete(cleanup);
}

/**
 * One server process of a throwaway server, its output appended to `logFile`. Stopped by PID: `terminate` sends a
 * signal (with SIGCONT, so that a paused process acts on it) and waits for the exit, SIGKILL after `timeoutMs`.
 */
export class ServerProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<void>;
  #running = true;

  constructor(binary: string, args: readonly string[], logFile: string) {
    const log = openSync(logFile, 'a');
    const child = spawn(binary, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.pid = child.pid;
    this.exited = new Promise<void>((resolve) => {
      const done = () => {
        this.#running = false;
        resolve();
      };
      child.once('exit', done);
      child.once('error', done);
    });
  }

  get running(): boolean {
    return this.#running;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.#running || this.pid === undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }

  async terminate(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    if (!this.#running) return;
    this.signal(signal);
    this.signal('SIGCONT');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.exited, timeout])) === 'timeout' && this.#running) {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}
