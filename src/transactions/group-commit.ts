/**
 * Group commit: many callers' records go to the coordinator log in one statement, so that concurrent transactions
 * share one round trip and, for durable records, one WAL flush (as PostgreSQL's own commits share a flush).
 *
 * Leader/follower, with no timer: a record submitted while no write is in flight is written at once (an idle
 * coordinator pays no added delay); records submitted while a write is in flight wait for it to end and then go
 * together in the next write. A caller therefore waits at most for one write in flight plus its own, each bounded by
 * the state store's statement timeout, and a batch holds at most `maxBatch` records. Two records with the same key
 * (two decisions of one transaction) never share a write, so each write's per-record answer stays a compare-and-set.
 */
interface Waiting<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit<I, R> {
  readonly #queue: Waiting<I, R>[] = [];
  #writing = false;

  constructor(
    private readonly write: (items: readonly I[]) => Promise<readonly R[]>,
    private readonly key: (item: I) => string,
    private readonly maxBatch = 256,
  ) {}

  /** Resolves with this record's answer from the write that carried it; rejects when that write failed. */
  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#writing) this.#next();
    });
  }

  #next(): void {
    if (this.#queue.length === 0) {
      this.#writing = false;
      return;
    }
    this.#writing = true;
    const keys = new Set<string>();
    const batch: Waiting<I, R>[] = [];
    for (let i = 0; i < this.#queue.length && batch.length < this.maxBatch; ) {
      const entry = this.#queue[i]!;
      const key = this.key(entry.item);
      if (keys.has(key)) {
        i += 1;
        continue;
      }
      keys.add(key);
      batch.push(entry);
      this.#queue.splice(i, 1);
    }
    let written: Promise<readonly R[]>;
    try {
      written = this.write(batch.map((b) => b.item));
    } catch (error) {
      written = Promise.reject(error);
    }
    void written
      .then(
        (results) => batch.forEach((b, i) => b.resolve(results[i]!)),
        (error: unknown) => batch.forEach((b) => b.reject(error)),
      )
      .finally(() => this.#next());
  }
}
