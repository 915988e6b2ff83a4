import { BSON, Timestamp, type Document, type FindCursor, type MongoClient } from 'mongodb';
import type { Repository } from '../../../repository/repository-types.js';
import { MongodbBackupError } from './mongodb-backup-error.js';
import { encodeOplogSlice, oplogSliceName } from './oplog-slice.js';
import { compareOplogTime, formatOplogTime, fromTimestamp, toTimestamp, type OplogTime } from './oplog-timestamp.js';

/** The beginning of an oplog: a capture from here has no entry to check continuity against. */
export const OPLOG_START: OplogTime = Object.freeze({ t: 0, i: 0 });

export interface CaptureOplogOptions {
  readonly client: MongoClient;
  /** The database whose entries are kept. */
  readonly database: string;
  readonly repository: Repository;
  /** The last position already captured (or a backup's start); the oplog must still hold it, else entries are lost. */
  readonly after: OplogTime;
  /** Stop after this position (a backup's end). Without it the capture tails the oplog until `signal` aborts. */
  readonly until?: OplogTime;
  readonly signal?: AbortSignal;
  /** A slice is written once it holds this many bytes (default 8 MiB), bounding memory. */
  readonly maxSliceBytes?: number;
  /** While tailing, a slice is written at least this often (default 10 s), bounding what a crash loses. */
  readonly maxSliceMs?: number;
  /**
   * Called after each slice is stored, and while tailing each time the cursor finds nothing new with nothing pending
   * (then `caughtUpAt` is now: every entry the server had is stored).
   */
  readonly onProgress?: (progress: { last: OplogTime; slices: number; caughtUpAt: number | undefined }) => void;
}

export interface CaptureOplogResult {
  readonly slices: readonly string[];
  /** The last position covered (equal to `after` when nothing newer was there). */
  readonly last: OplogTime;
  readonly entries: number;
}

/** The newest position of the oplog, or undefined when the server has none (a standalone, FerretDB without one). */
export async function newestOplogTime(client: MongoClient): Promise<OplogTime | undefined> {
  if (!(await hasOplog(client))) return undefined;
  const newest = await client.db('local').collection('oplog.rs').find({}, { sort: { $natural: -1 }, limit: 1, projection: { ts: 1 } }).next();
  return newest?.ts instanceof Timestamp ? fromTimestamp(newest.ts) : OPLOG_START;
}

export async function hasOplog(client: MongoClient): Promise<boolean> {
  const found = await client.db('local').listCollections({ name: 'oplog.rs' }, { nameOnly: true }).toArray();
  return found.length > 0;
}

/**
 * Copies the oplog entries of one database after `after` into slices in the repository's log archive. The first
 * entry read must be `after` itself (as mongodump --oplog checks): when the oplog has rolled past it, the entries in
 * between are gone and the capture fails with 'oplog-gap' instead of storing a chain with a hole. Memory: one slice.
 */
export async function captureOplog(options: CaptureOplogOptions): Promise<CaptureOplogResult> {
  const { client, database, repository, after, until, signal } = options;
  const maxBytes = options.maxSliceBytes ?? 8 * 1024 * 1024;
  const maxMs = options.maxSliceMs ?? 10_000;
  const tailing = until === undefined;
  let anchored = false;
  let anchor = after;
  let cursor!: FindCursor<Buffer>;
  // A tailable cursor dies when it reaches the end of an empty capped collection: it is opened again from the last
  // position read, which must again be the first entry found.
  const open = (from: OplogTime) => {
    anchor = from;
    anchored = compareOplogTime(from, OPLOG_START) > 0;
    const ts: Document = { ...(anchored ? { $gte: toTimestamp(from) } : {}), ...(until ? { $lte: toTimestamp(until) } : {}) };
    cursor = client.db('local').collection('oplog.rs').find(Object.keys(ts).length > 0 ? { ts } : {}, {
      raw: true, batchSize: 1000, ...(tailing ? { tailable: true, awaitData: true, maxAwaitTimeMS: 1000 } : {}),
    }) as unknown as FindCursor<Buffer>;
  };
  open(after);
  const stop = () => void cursor.close().catch(() => undefined);
  signal?.addEventListener('abort', stop, { once: true });

  const slices: string[] = [];
  let previous = after;
  let last = after;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let sliceStarted = Date.now();
  let entries = 0;
  let first = true;
  const flush = async () => {
    if (compareOplogTime(last, previous) === 0) return;
    const name = oplogSliceName(previous, last);
    await repository.putWal(name, encodeOplogSlice({ database, previous, last, count: pending.length }, pending));
    slices.push(name);
    entries += pending.length;
    previous = last;
    pending = [];
    pendingBytes = 0;
    sliceStarted = Date.now();
    options.onProgress?.({ last, slices: slices.length, caughtUpAt: undefined });
  };
  try {
    for (;;) {
      if (signal?.aborted) break;
      let raw: Buffer | null;
      try {
        raw = await cursor.tryNext();
      } catch (error) {
        if (signal?.aborted) break;
        throw new MongodbBackupError('backup-failed', `reading local.oplog.rs after ${formatOplogTime(last)} failed: ${(error as Error).message}`, { cause: error });
      }
      if (raw === null) {
        if (!tailing) break;
        if (cursor.closed) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          if (signal?.aborted) break;
          open(last);
          first = true;
        }
        if (Date.now() - sliceStarted >= maxMs) await flush();
        if (compareOplogTime(last, previous) === 0) options.onProgress?.({ last, slices: slices.length, caughtUpAt: Date.now() });
        continue;
      }
      const entry = BSON.deserialize(raw, { promoteValues: false, bsonRegExp: true });
      const ts = entry.ts instanceof Timestamp ? fromTimestamp(entry.ts) : undefined;
      if (ts === undefined) continue;
      if (first) {
        first = false;
        if (anchored) {
          if (compareOplogTime(ts, anchor) !== 0) throw gap(anchor, ts);
          continue;
        }
      }
      if (concerns(entry, database)) {
        pending.push(raw);
        pendingBytes += raw.length;
      }
      last = ts;
      if (pendingBytes >= maxBytes || (tailing && Date.now() - sliceStarted >= maxMs)) await flush();
    }
    if (first && anchored && !signal?.aborted) throw gap(anchor, undefined);
    await flush();
    return { slices, last, entries };
  } finally {
    signal?.removeEventListener('abort', stop);
    await cursor.close().catch(() => undefined);
  }
}

/** Whether an oplog entry changes `database`: its own namespace, or a transaction's applyOps holding such entries. */
export function concerns(entry: Document, database: string): boolean {
  const ns = typeof entry.ns === 'string' ? entry.ns : '';
  if (ns.startsWith(`${database}.`)) return entry.op !== 'n';
  const inner = (entry.o as Document | undefined)?.applyOps;
  return entry.op === 'c' && Array.isArray(inner) && inner.some((op: Document) => concerns(op, database));
}

function gap(after: OplogTime, found: OplogTime | undefined): MongodbBackupError {
  return new MongodbBackupError(
    'oplog-gap',
    `the oplog no longer holds position ${formatOplogTime(after)}, where the capture continues (${found ? `its first entry from there is ${formatOplogTime(found)}` : 'nothing at or after it'}): the entries in between are lost; take a new full backup, and make the oplog larger (replSetResizeOplog) or capture it more often`,
    { items: [formatOplogTime(after)] },
  );
}
