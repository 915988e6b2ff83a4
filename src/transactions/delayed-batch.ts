/**
 * Housekeeping writes gathered for a few milliseconds and written together, off the callers' path: `add` never waits,
 * the write runs on a short timer (or at `flush`), and a failed write is only logged by its owner, because losing it
 * costs nothing but a later clean-up (recovery redoes it).
 */
export class DelayedBatch<T> {
  #pending: T[] = [];
  readonly #writing = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (items: readonly T[]) => Promise<void>,
    private readonly delayMs = 2,
  ) {}

  add(item: T): void {
    this.#pending.push(item);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.delayMs);
  }

  /** Writes what is pending; resolves when every write started so far ended (failed ones included). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) {
      const write = this.write(batch).catch(() => undefined);
      this.#writing.add(write);
      void write.finally(() => this.#writing.delete(write));
    }
    await Promise.all([...this.#writing]);
  }
}
