import { createHmac } from 'node:crypto';
import { RepositoryError } from '../errors/repository-error.js';
import { CompressionCodec } from './compression-codec.js';
import { decodeObject, encodeObject } from './object-codec.js';
import type { CompressionType } from './repository-types.js';

/** What a chunk worker needs to know: plain data, structured-cloneable. */
export interface ChunkWorkSettings {
  readonly encryptionKey: Uint8Array;
  readonly chunkIdKey: Uint8Array;
  readonly compression: CompressionType;
  readonly compressionLevel: number;
}

/** The CPU-heavy part of chunk handling, run either in a worker thread or inline: the same code both ways. */
export class ChunkWork {
  readonly #encryptionKey: Buffer;
  readonly #chunkIdKey: Buffer;
  readonly #codec: CompressionCodec;

  constructor(settings: ChunkWorkSettings) {
    this.#encryptionKey = Buffer.from(settings.encryptionKey);
    this.#chunkIdKey = Buffer.from(settings.chunkIdKey);
    this.#codec = new CompressionCodec(settings.compression, settings.compressionLevel);
  }

  chunkId(data: Uint8Array): string {
    return createHmac('sha256', this.#chunkIdKey).update(data).digest('hex');
  }

  encode(key: string, data: Uint8Array): Buffer {
    return encodeObject(key, data, this.#codec, this.#encryptionKey);
  }

  /** Decodes an object; for a chunk (`expectedId` given) also checks that its plaintext still has that id. */
  decode(key: string, data: Buffer, expectedId?: string): Buffer {
    const plaintext = decodeObject(key, data, this.#codec, this.#encryptionKey);
    if (expectedId !== undefined && this.chunkId(plaintext) !== expectedId) {
      throw new RepositoryError('corrupt-object', `chunk ${expectedId} decrypts but its content has another id (the repository was written with another key or tampered with)`, { object: key });
    }
    return plaintext;
  }
}
