import { BSON, Timestamp, type Document } from 'mongodb';
import { MongodbBackupError } from './mongodb-backup-error.js';
import { compareOplogTime, fromTimestamp, toTimestamp, type OplogTime } from './oplog-timestamp.js';

/**
 * One slice of captured oplog, stored as a whole object in the repository's log archive (beside PostgreSQL's WAL):
 * a header document, then the entries of one database as the server wrote them (raw BSON). A slice covers the
 * positions after `previous` up to and including `last`; the next slice continues from `last`, so a chain of slices
 * whose `previous` is the former's `last` has no gap (entries of other databases covered by it are simply not kept).
 */
export interface OplogSliceHeader {
  readonly database: string;
  /** The position this slice continues from ({t: 0, i: 0}: from the oplog's beginning). */
  readonly previous: OplogTime;
  readonly last: OplogTime;
  readonly count: number;
}

const FORMAT = 'datakeep-oplog-slice';
const NAME = /^oplog[0-9a-f]{3}([0-9a-f]{8})([0-9a-f]{8})\.([0-9a-f]{8})([0-9a-f]{8})$/;

const hex = (n: number) => n.toString(16).padStart(8, '0');

/**
 * The slice's archive name: the position it continues from, then its last one. The first 24 characters sort (as text,
 * and as the retention policy orders WAL names) by position, and the first 8 group about 12 days of slices per
 * directory; with both ends in the name, the chain is known from a listing, without reading any slice.
 */
export function oplogSliceName(previous: OplogTime, last: OplogTime): string {
  const t = hex(previous.t);
  return `oplog${t.slice(0, 3)}${t}${hex(previous.i)}.${hex(last.t)}${hex(last.i)}`;
}

export function isOplogSliceName(name: string): boolean {
  return NAME.test(name);
}

/** The positions a slice covers (after `previous`, up to `last`), read from its name. */
export function sliceNameRange(name: string): { previous: OplogTime; last: OplogTime } | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  const n = (i: number) => parseInt(match[i]!, 16);
  return { previous: { t: n(1), i: n(2) }, last: { t: n(3), i: n(4) } };
}

export function encodeOplogSlice(header: OplogSliceHeader, entries: readonly Buffer[]): Buffer {
  const head = BSON.serialize({ format: FORMAT, version: 1, database: header.database, previous: toTimestamp(header.previous), last: toTimestamp(header.last), count: header.count });
  return Buffer.concat([head, ...entries]);
}

/** Splits a slice into its header and entries, checking that it is whole (the repository has authenticated it). */
export function decodeOplogSlice(name: string, content: Buffer): { header: OplogSliceHeader; entries: Document[] } {
  const documents: Document[] = [];
  let offset = 0;
  while (offset < content.length) {
    const size = content.length - offset >= 4 ? content.readInt32LE(offset) : -1;
    if (size < 5 || offset + size > content.length) throw corrupt(name, `a document at byte ${offset} runs past the end`);
    documents.push(BSON.deserialize(content.subarray(offset, offset + size), { promoteValues: false, bsonRegExp: true }));
    offset += size;
  }
  const head = documents.shift();
  if (head?.format !== FORMAT || !(head.previous instanceof Timestamp) || !(head.last instanceof Timestamp)) throw corrupt(name, 'it has no slice header');
  const header: OplogSliceHeader = { database: String(head.database), previous: fromTimestamp(head.previous), last: fromTimestamp(head.last), count: Number(head.count) };
  if (documents.length !== header.count) throw corrupt(name, `its header counts ${header.count} entries, it holds ${documents.length}`);
  if (compareOplogTime(header.last, header.previous) < 0) throw corrupt(name, 'its last position lies before the one it continues from');
  const range = sliceNameRange(name);
  if (range && (compareOplogTime(range.previous, header.previous) !== 0 || compareOplogTime(range.last, header.last) !== 0)) throw corrupt(name, 'its header covers other positions than its name says');
  return { header, entries: documents };
}

function corrupt(name: string, why: string): MongodbBackupError {
  return new MongodbBackupError('backup-corrupt', `oplog slice ${name} is not a valid slice: ${why}; take a new full backup (restores past this slice cannot replay it)`, { items: [name] });
}
