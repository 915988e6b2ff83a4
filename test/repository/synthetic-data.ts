import { Readable } from 'node:stream';

const PAGE = 8192;
const POOL_PAGES = 2048;

/** xorshift32: deterministic and fast, so the same seed always yields the same bytes. */
export function prng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

function pagePool(seed: number): Buffer {
  const next = prng(seed);
  const pool = Buffer.alloc(POOL_PAGES * PAGE);
  let offset = 0;
  while (offset < pool.length) {
    // Table-like rows: some structure (compressible) and some noise, roughly like database pages.
    const row = `${next() % 100000}|account-${next() % 5000}|${(next() % 1000000).toString(36)}|${next().toString(16)}${next().toString(16)}\n`;
    offset += pool.write(row, offset);
  }
  return pool;
}

/**
 * A deterministic stream of `size` bytes made of 8 KiB "pages": bodies drawn from a pool, each page stamped with its
 * own number (as database pages carry an LSN), so no two chunks are identical and dedup cannot flatter a measure.
 * Generating costs little next to the code under test, and memory stays at the 16 MiB pool.
 */
export function syntheticStream(size: number, seed = 1, pieceSize = 256 * 1024): Readable {
  const pool = pagePool(seed);
  const next = prng(seed ^ 0x5bd1e995);
  let produced = 0;
  let page = 0;
  return new Readable({
    highWaterMark: pieceSize,
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(pieceSize, size - produced);
      const piece = Buffer.allocUnsafe(length);
      for (let at = 0; at < length; at += PAGE, page++) {
        const source = (next() % POOL_PAGES) * PAGE;
        const n = Math.min(PAGE, length - at);
        pool.copy(piece, at, source, source + n);
        if (n >= 16) {
          piece.writeUInt32LE(page, at);
          piece.writeUInt32LE(seed >>> 0, at + 4);
          piece.writeUInt32LE((page ^ 0xa5a5a5a5) >>> 0, at + 8);
        }
      }
      produced += length;
      this.push(piece);
    },
  });
}

/** The whole content of a synthetic stream (small sizes only). */
export async function syntheticBuffer(size: number, seed = 1): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of syntheticStream(size, seed)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
