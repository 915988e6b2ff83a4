import { BSON, type Document } from 'mongodb';

/**
 * A document as a lifecycle record: canonical Extended JSON, which keeps every BSON type (Int32 vs Double vs Long,
 * Decimal128, Binary subtypes, dates to the millisecond, Timestamps, regular expression options...). The document
 * must have been read with `exactTypes` so that no value was promoted to a JavaScript number first.
 */
export function encodeDocument(doc: Document): string {
  return BSON.EJSON.stringify(doc, { relaxed: false });
}

/** A record back to a document with the same BSON types, ready for insert. */
export function decodeDocument(record: string): Document {
  return BSON.EJSON.parse(record, { relaxed: false }) as Document;
}

/** An `_id` as a row key element: its canonical Extended JSON value (`{"$oid": ...}`, a string, `{"$numberLong": ...}`). */
export function encodeKey(id: unknown): unknown {
  return (BSON.EJSON.serialize({ id }, { relaxed: false }) as { id: unknown }).id;
}

/** A row key element back to the `_id` value. */
export function decodeKey(key: unknown): unknown {
  return (BSON.EJSON.deserialize({ id: key } as Document, { relaxed: false }) as { id: unknown }).id;
}
