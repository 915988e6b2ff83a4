/**
 * A FIFO mutex: `lock()` resolves to a release function once every earlier holder has released. Used where one
 * connection must serve one caller at a time (PGlite's single session, nested savepoints of one transaction).
 */
export class AsyncMutex {
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  #held = false;

  get waiting(): number {
    return this.#waiting;
  }

  get held(): boolean {
    return this.#held;
  }

  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.#tail;
    this.#tail = previous.then(() => next);
    this.#waiting += 1;
    return previous.then(() => {
      this.#waiting -= 1;
      this.#held = true;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#held = false;
        release();
      };
    });
  }
}
