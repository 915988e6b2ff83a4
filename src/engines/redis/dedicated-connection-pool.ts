import type { Redis } from 'ioredis';

/**
 * Connections that one caller holds for a while (WATCH ... EXEC state lives on a connection, so it cannot share the
 * adapter's multiplexed one). At most `max` exist at once; further callers wait in FIFO order. A connection handed
 * back as broken is closed instead of reused.
 */
export class DedicatedConnectionPool {
  readonly #idle: Redis[] = [];
  readonly #waiters: { resolve(): void }[] = [];
  /** Connections in use, and those of them to close when released (made before a password change). */
  readonly #handedOut = new Set<Redis>();
  readonly #retired = new Set<Redis>();
  #inUse = 0;
  #closed = false;

  constructor(
    private readonly max: number,
    private readonly open: () => Promise<Redis>,
  ) {}

  get stats(): { active: number; idle: number; waiting: number } {
    return { active: this.#inUse, idle: this.#idle.length, waiting: this.#waiters.length };
  }

  async acquire(): Promise<Redis> {
    while (this.#inUse >= this.max) {
      await new Promise<void>((resolve) => this.#waiters.push({ resolve }));
    }
    this.#inUse += 1;
    const idle = this.#idle.pop();
    if (idle && idle.status === 'ready') return this.#handOut(idle);
    idle?.disconnect();
    try {
      return this.#handOut(await this.open());
    } catch (error) {
      this.#inUse -= 1;
      this.#wakeOne();
      throw error;
    }
  }

  release(connection: Redis, broken: boolean): void {
    this.#inUse -= 1;
    this.#handedOut.delete(connection);
    const retired = this.#retired.delete(connection);
    if (broken || retired || this.#closed || connection.status !== 'ready') connection.disconnect();
    else this.#idle.push(connection);
    this.#wakeOne();
  }

  /**
   * After a password change: idle connections close now, and the ones in use close when released, so that later
   * callers get connections made with the new password. Nothing in use is interrupted.
   */
  retire(): void {
    for (const connection of this.#handedOut) this.#retired.add(connection);
    for (const connection of this.#idle.splice(0)) connection.disconnect();
  }

  /** Closes idle connections now; connections in use are closed when they come back. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((c) => c.quit().catch(() => c.disconnect())));
  }

  #handOut(connection: Redis): Redis {
    this.#handedOut.add(connection);
    return connection;
  }

  #wakeOne(): void {
    this.#waiters.shift()?.resolve();
  }
}
