import { Readable } from 'node:stream';
import type { ClientSession, Collection, FindCursor } from 'mongodb';

/** Raw documents are gathered into pieces of about this size before they go to the repository's writer. */
const PIECE_BYTES = 256 * 1024;

/**
 * A collection's documents as a stream of BSON bytes, exactly as the server returns them (raw: nothing is decoded and
 * re-encoded, so every type and field order survives), read by a cursor in batches: memory holds one batch and one
 * piece, whatever the collection's size. `counted` receives the number of documents once the cursor is exhausted.
 */
export function collectionDocuments(collection: Collection, options: { session?: ClientSession; counted: (documents: number) => void }): Readable {
  const cursor = collection.find({}, { raw: true, batchSize: 1000, ...(options.session ? { session: options.session } : {}) }) as unknown as FindCursor<Buffer>;
  async function* pieces(): AsyncGenerator<Buffer> {
    let parts: Buffer[] = [];
    let bytes = 0;
    let documents = 0;
    try {
      for await (const raw of cursor) {
        parts.push(raw);
        bytes += raw.length;
        documents += 1;
        if (bytes >= PIECE_BYTES) {
          yield Buffer.concat(parts, bytes);
          parts = [];
          bytes = 0;
        }
      }
      if (bytes > 0) yield Buffer.concat(parts, bytes);
      options.counted(documents);
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }
  return Readable.from(pieces(), { objectMode: false });
}
