/**
 * The body of a diskless master's RDB transfer (`$EOF:<40 random bytes>`): the payload runs until those 40 bytes
 * appear again. Reads arrive in arbitrary pieces, so the mark may straddle two of them: only the last `mark - 1`
 * bytes of a read are held back (the only bytes that can begin a mark not yet seen whole), and every other byte is
 * passed on as a view of the read it came in, never copied (an RDB of many megabytes crosses here).
 */
export class EofMarkedPayload {
  readonly #mark: Buffer;
  #held: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(mark: Buffer) {
    if (mark.length < 2) throw new RangeError('an EOF mark has at least 2 bytes');
    this.#mark = mark;
  }

  get done(): boolean {
    return this.#done;
  }

  /**
   * Feeds one read. Returns the payload bytes it completes (views of `chunk`, and the bytes held back before), and,
   * once the mark has been read, `after`: the bytes that followed it (the command stream's start).
   */
  push(chunk: Buffer): { payload: Buffer[]; after: Buffer | undefined } {
    if (this.#done) throw new Error('EofMarkedPayload: data after the end mark was already returned');
    const payload: Buffer[] = [];
    let data = chunk;
    if (this.#held.length > 0) {
      const reach = this.#mark.length - 1;
      if (chunk.length < reach) {
        // A short read: the held bytes and it are fewer than two marks, so join them and look again.
        data = Buffer.concat([this.#held, chunk]);
      } else {
        // A mark that begins in the held bytes ends within the first mark-1 bytes of this read.
        const seam = Buffer.concat([this.#held, chunk.subarray(0, reach)]);
        const at = seam.indexOf(this.#mark);
        if (at >= 0) return this.#end(payload, this.#held.subarray(0, at), chunk.subarray(at + this.#mark.length - this.#held.length));
        payload.push(this.#held);
      }
      this.#held = Buffer.alloc(0);
    }
    const at = data.indexOf(this.#mark);
    if (at >= 0) return this.#end(payload, data.subarray(0, at), data.subarray(at + this.#mark.length));
    const keep = Math.min(data.length, this.#mark.length - 1);
    if (data.length > keep) payload.push(data.subarray(0, data.length - keep));
    // Copied: holding a view would keep the whole read's memory alive until the next one.
    this.#held = Buffer.from(data.subarray(data.length - keep));
    return { payload, after: undefined };
  }

  #end(payload: Buffer[], last: Buffer, after: Buffer): { payload: Buffer[]; after: Buffer } {
    this.#done = true;
    if (last.length > 0) payload.push(last);
    return { payload, after };
  }
}
