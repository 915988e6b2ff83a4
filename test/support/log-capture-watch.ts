import type { DataManager } from '../../src/index.js';
import type { LogCaptureState } from '../../src/backup/log-captures.js';

/**
 * A continuous log capture of one database run by a test through dm.backups.captures.run, with its state kept: the
 * test waits (bounded, named) for what it expects, then stops it and gets the final state.
 */
export class CaptureWatch {
  readonly states: LogCaptureState[] = [];
  readonly #controller = new AbortController();
  readonly done: Promise<LogCaptureState>;

  constructor(dm: DataManager, database: string, options: { destination: string; passphraseFile: string; intervalMs: number }) {
    this.done = dm.backups.captures.run(database, { ...options, signal: this.#controller.signal, maxBackoffMs: 1000, onState: (s) => this.states.push(s) });
    // A failure of run() itself surfaces through `done`; keep it from being reported unhandled meanwhile.
    this.done.catch(() => undefined);
  }

  get last(): LogCaptureState | undefined {
    return this.states.at(-1);
  }

  /** Waits until a state satisfies `check`; throws naming `what` (and the last state) after `limitMs`. */
  async until(check: (s: LogCaptureState) => boolean, limitMs: number, what: string): Promise<LogCaptureState> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const last = this.last;
      if (last && check(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for the capture: ${what} (last state: ${JSON.stringify(last)})`);
      await Promise.race([new Promise((r) => setTimeout(r, 50)), this.done]);
    }
  }

  /** Waits until the capture has stored everything written up to now (its covered-until instant passes it). */
  async caughtUp(limitMs: number, what: string): Promise<LogCaptureState> {
    const now = Date.now();
    return this.until((s) => s.status === 'running' && s.coveredUntil !== undefined && Date.parse(s.coveredUntil) > now, limitMs, what);
  }

  async stop(): Promise<LogCaptureState> {
    this.#controller.abort();
    return this.done;
  }
}
