import type { Readable } from 'node:stream';
import { BSON, type Document } from 'mongodb';

/**
 * The documents of a stream of concatenated BSON documents, in batches of at most `batchSize` documents or about
 * `batchBytes` bytes: memory holds one batch and one document's worth of carried-over bytes. Every BSON type comes
 * back as itself (no promotion to JavaScript numbers), so writing the documents again stores the same BSON.
 */
export async function* readBsonDocuments(stream: Readable, options: { batchSize?: number; batchBytes?: number; path: string }): AsyncGenerator<Document[]> {
  const batchSize = options.batchSize ?? 1000;
  const batchBytes = options.batchBytes ?? 4 * 1024 * 1024;
  let carry = Buffer.alloc(0);
  let batch: Document[] = [];
  let bytes = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    const data = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
    let offset = 0;
    while (data.length - offset >= 4) {
      const size = data.readInt32LE(offset);
      if (size < 5) throw new Error(`${options.path}: a document at byte ${offset} has an invalid length ${size}`);
      if (data.length - offset < size) break;
      batch.push(BSON.deserialize(data.subarray(offset, offset + size), { promoteValues: false, bsonRegExp: true }));
      bytes += size;
      offset += size;
      if (batch.length >= batchSize || bytes >= batchBytes) {
        yield batch;
        batch = [];
        bytes = 0;
      }
    }
    // Keep only the incomplete tail (copied, so the piece it came from can be freed).
    carry = Buffer.from(data.subarray(offset));
  }
  if (carry.length > 0) throw new Error(`${options.path}: the stream ends inside a document (${carry.length} bytes left over)`);
  if (batch.length > 0) yield batch;
}
