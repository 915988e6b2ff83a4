import { gunzipSync, gzipSync } from 'node:zlib';
import zstd from 'zstd-napi';
import type { CompressionType } from './repository-types.js';

/** Stable on-disk numbers of the compression types (object header byte 4). */
export const COMPRESSION_IDS: Readonly<Record<CompressionType, number>> = Object.freeze({ none: 0, gzip: 1, zstd: 2 });
/**
 * Defaults for new repositories (a repository keeps the level it was created with). zstd 1, not 3: on 1 MiB chunks
 * of an RDB and of table-like data it compressed 2.2 to 2.6 times faster for the same size (ratios 0.269 vs 0.265 and
 * 0.463 vs 0.464, docs/benchmarks.md), and compression was most of the CPU a backup of one big stream spends.
 */
export const DEFAULT_LEVELS: Readonly<Record<CompressionType, number>> = Object.freeze({ none: 0, gzip: 6, zstd: 1 });

export function compressionById(id: number): CompressionType | undefined {
  return (Object.keys(COMPRESSION_IDS) as CompressionType[]).find((name) => COMPRESSION_IDS[name] === id);
}

export function compressionLevelProblem(type: CompressionType, level: number): string | undefined {
  if (!Number.isInteger(level)) return `compressionLevel must be an integer (got ${level})`;
  if (type === 'gzip' && (level < 1 || level > 9)) return `compressionLevel for gzip must be 1..9 (got ${level})`;
  if (type === 'zstd' && (level < 1 || level > 19)) return `compressionLevel for zstd must be 1..19 (got ${level})`;
  return undefined;
}

/** Compresses and decompresses whole objects (chunks are at most 4 MiB, so one-shot calls keep memory bounded).
 * One instance per thread: the zstd contexts are reused across calls. */
export class CompressionCodec {
  readonly type: CompressionType;
  readonly level: number;
  #compressor: zstd.Compressor | undefined;
  #decompressor: zstd.Decompressor | undefined;

  constructor(type: CompressionType, level = DEFAULT_LEVELS[type]) {
    this.type = type;
    this.level = level;
  }

  compress(data: Uint8Array): Buffer {
    switch (this.type) {
      case 'none':
        return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      case 'gzip':
        return gzipSync(data, { level: this.level });
      case 'zstd':
        if (this.#compressor === undefined) {
          this.#compressor = new zstd.Compressor();
          this.#compressor.setParameters({ compressionLevel: this.level });
        }
        return this.#compressor.compress(data);
    }
  }

  /** Decompresses with the type recorded in the object header (an object may predate a config change). */
  decompress(type: CompressionType, data: Buffer): Buffer {
    switch (type) {
      case 'none':
        return data;
      case 'gzip':
        return gunzipSync(data);
      case 'zstd':
        this.#decompressor ??= new zstd.Decompressor();
        return this.#decompressor.decompress(data);
    }
  }
}
