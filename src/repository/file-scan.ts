import { createHash, type Hash } from 'node:crypto';
import { ContentDefinedChunker, type ChunkSizes } from './content-defined-chunker.js';

/** What a finished scan knows about the whole file. */
export interface FileScanResult {
  /** The last chunk (or none when the content ended on a boundary or was empty). */
  readonly chunks: Buffer[];
  /** SHA-256 of the whole content, hex. */
  readonly sha256: string;
  readonly size: number;
}

/**
 * The sequential part of storing a file: content-defined chunking and the whole-file SHA-256, fed in order. Runs in a
 * chunk worker (one file stays on one worker, since the hash state cannot move between threads) or inline.
 */
export class FileScan {
  readonly #chunker: ContentDefinedChunker;
  readonly #hash: Hash = createHash('sha256');
  #size = 0;

  constructor(sizes: ChunkSizes, gear: Int32Array) {
    this.#chunker = new ContentDefinedChunker(sizes, gear);
  }

  /** The chunks this data completes, each owning its memory. */
  push(data: Uint8Array): Buffer[] {
    this.#hash.update(data);
    this.#size += data.byteLength;
    return this.#chunker.push(data);
  }

  finish(): FileScanResult {
    return { chunks: this.#chunker.finish(), sha256: this.#hash.digest('hex'), size: this.#size };
  }
}
