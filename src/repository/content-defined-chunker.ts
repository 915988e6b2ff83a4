/** Chunk size bounds in bytes (the repository config's `chunking`). */
export interface ChunkSizes {
  readonly average: number;
  readonly min: number;
  readonly max: number;
}

export const DEFAULT_CHUNK_SIZES: ChunkSizes = Object.freeze({ average: 1 << 20, min: 256 << 10, max: 4 << 20 });
export const MAX_CHUNK_SIZE_LIMIT = 4 << 20;

/** Validates chunk sizes; returns a message naming the problem, or undefined. */
export function chunkSizesProblem(sizes: ChunkSizes): string | undefined {
  const { average, min, max } = sizes;
  if (![average, min, max].every((n) => Number.isInteger(n) && n > 0)) return 'chunkSize.average/min/max must be positive integers';
  if ((average & (average - 1)) !== 0) return `chunkSize.average must be a power of two (got ${average})`;
  if (!(min >= 64 && min < average && average < max)) return `chunkSize must satisfy 64 <= min < average < max (got ${min}/${average}/${max})`;
  if (max > MAX_CHUNK_SIZE_LIMIT) return `chunkSize.max must be at most ${MAX_CHUNK_SIZE_LIMIT} bytes (got ${max})`;
  return undefined;
}

/** Builds the 256-entry gear table from 1024 bytes of key material (per repository, so boundaries leak nothing). */
export function gearTable(seed: Buffer): Int32Array {
  if (seed.length < 1024) throw new TypeError('gear table seed must be 1024 bytes');
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = seed.readInt32LE(i * 4);
  return table;
}

/**
 * FastCDC-style content-defined chunking (Xia et al., 2016): a gear rolling hash, the first `min` bytes of a chunk
 * skipped, and normalized chunking: a stricter mask (more bits) before the average size and a looser one after, which
 * narrows the size distribution around the average. Boundaries depend only on the bytes near them (the 32-bit gear
 * hash covers the last 32 bytes), so an insert shifts only the chunks it touches.
 *
 * Streaming: `push` returns the chunks completed by the new data (each a fresh Buffer that owns its memory, so it can
 * be transferred to a worker); `finish` returns the tail. Memory: one buffer of `max` bytes.
 */
export class ContentDefinedChunker {
  readonly #gear: Int32Array;
  readonly #min: number;
  readonly #normal: number;
  readonly #max: number;
  readonly #maskS: number;
  readonly #maskL: number;
  #buffer: Buffer;
  #length = 0;
  #scanned = 0;
  #hash = 0;

  constructor(sizes: ChunkSizes, gear: Int32Array) {
    const problem = chunkSizesProblem(sizes);
    if (problem !== undefined) throw new RangeError(problem);
    this.#gear = gear;
    this.#min = sizes.min;
    this.#normal = sizes.average;
    this.#max = sizes.max;
    const bits = Math.log2(sizes.average);
    // The high bits of the gear hash depend on the most bytes (bit k sees the last k+1 bytes), so masks use them.
    this.#maskS = highBits(bits + 2);
    this.#maskL = highBits(bits - 2);
    this.#buffer = Buffer.allocUnsafeSlow(this.#max);
  }

  push(data: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(this.#max - this.#length, data.length - offset);
      this.#buffer.set(data.subarray(offset, offset + n), this.#length);
      this.#length += n;
      offset += n;
      for (let cut = this.#scan(); cut > 0; cut = this.#scan()) out.push(this.#take(cut));
    }
    return out;
  }

  finish(): Buffer[] {
    return this.#length > 0 ? [this.#take(this.#length)] : [];
  }

  /** Returns the length of the next complete chunk in the buffer, or 0 when more data is needed. */
  #scan(): number {
    const length = this.#length;
    if (length <= this.#min) return 0;
    const buffer = this.#buffer;
    const gear = this.#gear;
    let hash = this.#hash;
    let i = this.#scanned < this.#min ? this.#min : this.#scanned;
    const normalEnd = Math.min(this.#normal, length);
    const maskS = this.#maskS;
    for (; i < normalEnd; i++) {
      hash = ((hash << 1) + gear[buffer[i]!]!) | 0;
      if ((hash & maskS) === 0) return i + 1;
    }
    const maskL = this.#maskL;
    for (; i < length; i++) {
      hash = ((hash << 1) + gear[buffer[i]!]!) | 0;
      if ((hash & maskL) === 0) return i + 1;
    }
    if (length >= this.#max) return this.#max;
    this.#hash = hash;
    this.#scanned = i;
    return 0;
  }

  #take(length: number): Buffer {
    const chunk = Buffer.allocUnsafeSlow(length);
    this.#buffer.copy(chunk, 0, 0, length);
    this.#buffer.copyWithin(0, length, this.#length);
    this.#length -= length;
    this.#scanned = 0;
    this.#hash = 0;
    return chunk;
  }
}

function highBits(count: number): number {
  return count >= 32 ? -1 : ((2 ** count - 1) * 2 ** (32 - count)) | 0;
}
