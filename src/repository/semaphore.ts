/** Counts permits; `acquire(n)` waits (FIFO) until n are free. Bounds the chunk bytes in flight, hence memory. */
export class Semaphore {
  #free: number;
  readonly #waiters: { count: number; resolve: () => void }[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  async acquire(count = 1): Promise<void> {
    if (this.#waiters.length === 0 && this.#free >= count) {
      this.#free -= count;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
  }

  release(count = 1): void {
    this.#free += count;
    // FIFO: a large request at the head is not overtaken by small ones (it would starve).
    while (this.#waiters.length > 0 && this.#free >= this.#waiters[0]!.count) {
      const next = this.#waiters.shift()!;
      this.#free -= next.count;
      next.resolve();
    }
  }
}
