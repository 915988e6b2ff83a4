import { LockError } from '../errors/index.js';
import { sleep } from '../resilience/backoff.js';
import type { Logger } from '../util/logger.js';
import { redactUrlPasswords } from '../util/secrets.js';
import type { LogCaptureProgress } from './log-capture-types.js';

/** The first wait after a failed capture; it doubles up to `maxBackoffMs`. */
const FIRST_BACKOFF_MS = 1000;
/** A run that lasted this long was healthy: the next failure waits the first backoff again. */
const HEALTHY_RUN_MS = 60_000;
/** How often a capture on standby looks whether the process that holds the capture is gone. */
const STANDBY_POLL_MS = 5_000;

/** One database's continuous log capture, as the service's API, its metrics and the CLI show it. */
export interface LogCaptureState {
  readonly database: string;
  readonly engine: string;
  /**
   * running: a capture is connected or connecting; retrying: the last run failed and the next starts at `nextAttemptAt`;
   * standby: another process captures this database into the same repository (`note` names it), and this one takes
   * over when that one stops or dies; stopped.
   */
  readonly status: 'running' | 'retrying' | 'standby' | 'stopped';
  readonly startedAt: string;
  /** The newest position stored (engine's notation) and the instant up to which the server's writes are stored. */
  readonly position: string | undefined;
  readonly coveredUntil: string | undefined;
  /** Seconds between now and `coveredUntil` (undefined before the first piece). */
  readonly lagSeconds: number | undefined;
  /** Pieces stored since the runner started, over all its runs. */
  readonly stored: number;
  /** Runs started again after a failure. */
  readonly restarts: number;
  readonly lastError: { readonly message: string; readonly at: string } | undefined;
  readonly nextAttemptAt: string | undefined;
  readonly note: string | undefined;
}

export interface LogCaptureRunnerOptions {
  readonly database: string;
  readonly engine: string;
  /**
   * One capture run: resolves when `signal` aborts, throws when it cannot go on (LockError 'timeout': another process
   * holds the capture, which puts this one on standby). It calls `onHolding` once it holds the capture, before
   * connecting.
   */
  readonly run: (signal: AbortSignal, onProgress: (progress: LogCaptureProgress) => void, onHolding: () => void) => Promise<void>;
  readonly logger: Logger;
  /** The longest wait between failed runs (default 60 s). */
  readonly maxBackoffMs?: number;
  /** How often a capture on standby tries to take over (default 5 s). */
  readonly standbyPollMs?: number;
  /** Called after every change of state (progress, failure, stop). */
  readonly onState?: (state: LogCaptureState) => void;
}

/**
 * Keeps one capture running until stopped: a run that fails is started again after a wait that doubles from 1 s up
 * to `maxBackoffMs` (back to 1 s after a run that lasted a minute), so a database server that restarts is followed
 * without an operator. Each run continues from the newest position in the repository (the drivers' contract), so a
 * restart loses nothing the server still holds. Errors are logged and kept with URL passwords redacted.
 */
export class LogCaptureRunner {
  readonly #options: LogCaptureRunnerOptions;
  readonly #abort = new AbortController();
  #state: Omit<LogCaptureState, 'lagSeconds'>;
  #coveredMs: number | undefined;
  #done: Promise<void> | undefined;

  constructor(options: LogCaptureRunnerOptions) {
    this.#options = options;
    this.#state = {
      database: options.database, engine: options.engine, status: 'running', startedAt: new Date().toISOString(), position: undefined, coveredUntil: undefined,
      stored: 0, restarts: 0, lastError: undefined, nextAttemptAt: undefined, note: undefined,
    };
  }

  /** Starts the loop (idempotent); the promise settles when stop() has ended it. */
  start(): Promise<void> {
    this.#done ??= this.#loop();
    return this.#done;
  }

  /** Stops the capture: the running one stores what arrived first. Idempotent. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await (this.#done ?? Promise.resolve());
    this.#set({ status: 'stopped', nextAttemptAt: undefined });
  }

  get state(): LogCaptureState {
    return { ...this.#state, lagSeconds: this.#coveredMs === undefined ? undefined : Math.max(0, (Date.now() - this.#coveredMs) / 1000) };
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      const began = Date.now();
      let storedBefore = 0;
      this.#set({ status: this.#state.status === 'standby' ? 'standby' : 'running', nextAttemptAt: undefined });
      try {
        await this.#options.run(signal, (p) => {
          if (p.stored < storedBefore) storedBefore = 0;
          this.#coveredMs = p.coveredUntil.getTime();
          this.#set({ position: p.position, coveredUntil: p.coveredUntil.toISOString(), stored: this.#state.stored + (p.stored - storedBefore), note: p.note ?? this.#state.note });
          storedBefore = p.stored;
        }, () => {
          if (this.#state.status !== 'standby') return;
          this.#options.logger.log('info', `log capture of ${this.#options.database}: taking over (the other process stopped)`, { operation: 'backup.capture', database: this.#options.database });
          this.#set({ status: 'running', note: undefined });
        });
        if (signal.aborted) break;
        throw new Error('the capture ended without being stopped');
      } catch (error) {
        const message = redactUrlPasswords((error as Error)?.message ?? String(error));
        if (error instanceof LockError && error.reason === 'timeout' && !signal.aborted) {
          // Not a failure: another process holds this database's capture. Said once, then polled quietly.
          if (this.#state.status !== 'standby') this.#options.logger.log('info', `${message} (on standby)`, { operation: 'backup.capture', database: this.#options.database });
          const wait = this.#options.standbyPollMs ?? STANDBY_POLL_MS;
          failures = 0;
          const held = message.startsWith(`${error.resource}: `) ? message.slice(error.resource.length + 2) : message;
          this.#set({ status: 'standby', note: held, nextAttemptAt: new Date(Date.now() + wait).toISOString() });
          await sleep(wait, signal);
          continue;
        }
        if (signal.aborted) {
          // A stop that could not store everything is said, never swallowed.
          this.#set({ lastError: { message, at: new Date().toISOString() } });
          this.#options.logger.log('warn', `log capture of ${this.#options.database} stopped with an error`, { operation: 'backup.capture', database: this.#options.database, error: message });
          break;
        }
        failures = Date.now() - began >= HEALTHY_RUN_MS ? 1 : failures + 1;
        const wait = Math.min(this.#options.maxBackoffMs ?? 60_000, FIRST_BACKOFF_MS * 2 ** (failures - 1));
        this.#set({ status: 'retrying', restarts: this.#state.restarts + 1, lastError: { message, at: new Date().toISOString() }, nextAttemptAt: new Date(Date.now() + wait).toISOString() });
        this.#options.logger.log('warn', `log capture of ${this.#options.database} failed; starting it again in ${Math.round(wait / 1000)} s`, { operation: 'backup.capture', database: this.#options.database, error: message });
        await sleep(wait, signal);
      }
    }
  }

  #set(change: Partial<Omit<LogCaptureState, 'lagSeconds'>>): void {
    this.#state = { ...this.#state, ...change };
    this.#options.onState?.(this.state);
  }
}
