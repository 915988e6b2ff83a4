import { spawn, type ChildProcess } from 'node:child_process';
import type { WorkerInput } from './failover-worker.js';

const WORKER = new URL('./failover-worker.ts', import.meta.url).pathname;

export interface WorkerEvent {
  event: string;
  t: number;
  [field: string]: unknown;
}

/** Processes not yet ended, SIGKILLed if the test process exits without ending them. */
const live = new Set<ChildProcess>();
let hookInstalled = false;

/**
 * A failover-worker.ts child: a datakeep instance of its own, with its events collected as they arrive. Faults by
 * PID: `kill()` (SIGKILL), `pause()` (SIGSTOP), `resume()`. `end()` asks it to exit (resigning), then SIGKILLs it.
 */
export class FailoverProcess {
  readonly name: string;
  readonly events: WorkerEvent[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stderr = '';
  #waiters: (() => void)[] = [];
  #nextId = 1;

  /** `script`: another worker with the same protocol (JSON input in argv, JSON events on stdout, commands on stdin). */
  constructor(input: WorkerInput | ({ holder: string } & Record<string, unknown>), script = WORKER) {
    this.name = input.holder;
    installHook();
    this.#child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(input)], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.#child);
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => {
      live.delete(this.#child);
      this.#notify();
      resolve();
    }));
    let buffer = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith('{')) this.events.push({ ...(JSON.parse(line) as WorkerEvent), holder: this.name });
      }
      this.#notify();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)));
  }

  get pid(): number {
    return this.#child.pid!;
  }
  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The events named `event`, in order. */
  all(event: string): WorkerEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** Waits for the `nth` (1-based) event named `event` matching `where`; throws after `timeoutMs` with the worker's output. */
  async waitFor(event: string, timeoutMs: number, options: { nth?: number; where?: (e: WorkerEvent) => boolean } = {}): Promise<WorkerEvent> {
    const nth = options.nth ?? 1;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.filter((e) => e.event === event && (options.where?.(e) ?? true))[nth - 1];
      if (found) return found;
      if (!this.alive) throw new Error(`${this.name} exited before "${event}" #${nth}; events: ${JSON.stringify(this.events)}; stderr: ${this.#stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${event}" #${nth} within ${timeoutMs} ms; events: ${JSON.stringify(this.events)}; stderr: ${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Asks for putIfLeader(epoch) with its last leadership and returns the answer ({ok, reason}). */
  async put(epoch: number, timeoutMs = 10_000): Promise<WorkerEvent> {
    const id = this.#nextId++;
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'put', id, epoch })}\n`);
    return this.waitFor('put', timeoutMs, { where: (e) => e.id === id });
  }

  /** SIGKILL, then waits until it is gone; returns the time the signal was sent. */
  async kill(): Promise<number> {
    const at = Date.now();
    if (this.alive) this.#child.kill('SIGKILL');
    await this.#exited;
    return at;
  }

  pause(): number {
    this.#child.kill('SIGSTOP');
    return Date.now();
  }

  resume(): number {
    this.#child.kill('SIGCONT');
    return Date.now();
  }

  /** Asks it to exit cleanly (it resigns), SIGKILL after `timeoutMs`. */
  async end(timeoutMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.#child.kill('SIGCONT');
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'exit' })}\n`);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

function installHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Leadership intervals from the workers' events: [held, end) where end is the earliest of the reported loss (its
 * `validUntil`, until when the lease was certainly alive), the loss report itself, and the worker's kill time.
 */
export function leadershipIntervals(processes: readonly FailoverProcess[], killedAt: ReadonlyMap<string, number> = new Map()): { holder: string; start: number; end: number }[] {
  const intervals: { holder: string; start: number; end: number }[] = [];
  for (const p of processes) {
    let open: number | undefined;
    for (const e of p.events) {
      if (e.event === 'held') open = e.t;
      if (e.event === 'lost' && open !== undefined) {
        intervals.push({ holder: p.name, start: open, end: Math.min(e.t, e.validUntil as number) });
        open = undefined;
      }
    }
    if (open !== undefined) intervals.push({ holder: p.name, start: open, end: killedAt.get(p.name) ?? Number.POSITIVE_INFINITY });
  }
  return intervals.sort((a, b) => a.start - b.start);
}

/** Polls a synchronous `check` every 20 ms; throws after `timeoutMs` naming what it waited for. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
