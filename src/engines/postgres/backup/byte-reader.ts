/**
 * Reads exact byte counts from an async iterable of buffers (a stream), holding at most one source chunk plus the
 * bytes asked for.
 */
export class ByteReader {
  readonly #source: AsyncIterator<Buffer | Uint8Array>;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Appends the next source chunk to the pending bytes; false at the end of the source. */
  async fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#source.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    return true;
  }

  /** Up to `n` bytes: fewer only at the end of the source (an empty buffer once it is exhausted). */
  async read(n: number): Promise<Buffer> {
    while (this.#pending.length < n && (await this.fill()));
    const out = this.#pending.subarray(0, Math.min(n, this.#pending.length));
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  /** Whatever is pending (filling once if nothing is), at most `max` bytes; empty at the end. */
  async readSome(max: number): Promise<Buffer> {
    if (this.#pending.length === 0 && !(await this.fill())) return Buffer.alloc(0);
    const out = this.#pending.subarray(0, Math.min(max, this.#pending.length));
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  get pendingLength(): number {
    return this.#pending.length;
  }

  /** Drops `n` pending-or-future bytes; false when the source ended first. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (this.#pending.length === 0 && !(await this.fill())) return false;
      const take = Math.min(left, this.#pending.length);
      this.#pending = this.#pending.subarray(take);
      left -= take;
    }
    return true;
  }

  /** Ends the source early (closes the underlying stream). */
  async close(): Promise<void> {
    await this.#source.return?.();
  }
}
