import type { DedicatedSession, SqlDatabaseAdapter } from '../adapters/database-adapter.js';

/**
 * Holds a dedicated session open from `take` until `release()`: the shape of every session-level lock (PostgreSQL
 * advisory locks, MariaDB GET_LOCK), which lives exactly as long as its session. `lost` records a failure of the held
 * session (detected by the optional heartbeat), meaning the lock is gone.
 */
export class SessionHold {
  #release: (() => void) | undefined;
  #done: Promise<void> = Promise.resolve();
  lost: unknown;

  /** Resolves once `take` succeeded on a dedicated session (rejects with its error otherwise). */
  start(
    adapter: SqlDatabaseAdapter,
    take: (session: DedicatedSession) => Promise<void>,
    give: (session: DedicatedSession) => Promise<void>,
    heartbeatMs?: number,
  ): Promise<void> {
    return new Promise<void>((resolveTaken, rejectTaken) => {
      let taken = false;
      const released = new Promise<void>((resolve) => (this.#release = resolve));
      this.#done = adapter
        .withSession(async (session) => {
          await take(session);
          taken = true;
          resolveTaken();
          const beat = heartbeatMs === undefined ? undefined : setInterval(() => {
            session.query('SELECT 1').catch((error: unknown) => {
              this.lost ??= error;
            });
          }, heartbeatMs);
          beat?.unref();
          try {
            await released;
          } finally {
            clearInterval(beat);
          }
          await give(session);
        })
        .catch((error: unknown) => {
          if (!taken) rejectTaken(error);
          else this.lost ??= error;
        });
    });
  }

  /** Gives the lock back and waits until the session is returned. */
  async release(): Promise<void> {
    this.#release?.();
    this.#release = undefined;
    await this.#done;
  }
}
