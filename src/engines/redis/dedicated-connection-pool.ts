import type { Redis } from 'ioredis';

/**
 * Connections that one caller holds for a while (WATCH ... EXEC state lives on a connection, so it cannot share the
 * adapter's multiplexed one). At most `max` exist at once; further callers wait in FIFO order. A connection handed
 * back as broken is closed instead of reused.
 */
export class DedicatedConnectionPool {
  readonly #idle: Redis[] = [];
  readonly #waiters: { resolve(): void }[] = [];
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
    if (idle && idle.status === 'ready') return idle;
    idle?.disconnect();
    try {
      return await this.open();
    } catch (error) {
      this.#inUse -= 1;
      this.#wakeOne();
      throw error;
    }
  }

  release(connection: Redis, broken: boolean): void {
    this.#inUse -= 1;
    if (broken || this.#closed || connection.status !== 'ready') connection.disconnect();
    else this.#idle.push(connection);
    this.#wakeOne();
  }

  /** Closes idle connections now; connections in use are closed when they come back. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((c) => c.quit().catch(() => c.disconnect())));
  }

  #wakeOne(): void {
    this.#waiters.shift()?.resolve();
  }
}
