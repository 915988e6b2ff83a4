import { Readable } from 'node:stream';
import { ByteReader } from './byte-reader.js';

export interface TarEntry {
  /** Without a trailing slash. */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
  readonly linkTarget: string;
  /** The file's content; consume it (or not) before asking for the next entry, which skips what is left. */
  readonly body: Readable;
}

const BLOCK = 512;

/**
 * Reads a tar stream (ustar, with pax and GNU long-name extensions) entry by entry without holding any file: each
 * entry's body is a stream over the source, so memory stays at one source chunk whatever the file sizes.
 */
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<TarEntry> {
  const reader = new TarReader(source);
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let paxLink: string | undefined;
  let paxMtime: number | undefined;
  for (;;) {
    const header = await reader.readExact(BLOCK);
    if (header === undefined || header.every((byte) => byte === 0)) return;
    verifyChecksum(header);
    const typeflag = String.fromCharCode(header[156]!);
    const size = paxSize ?? readNumber(header, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      const data = (await reader.readExact(padded)) ?? truncated();
      const text = data.subarray(0, size);
      if (typeflag === 'x') {
        for (const [key, value] of parsePax(text)) {
          if (key === 'path') paxPath = value;
          else if (key === 'size') paxSize = Number(value);
          else if (key === 'linkpath') paxLink = value;
          else if (key === 'mtime') paxMtime = Number(value) * 1000;
        }
      } else if (typeflag === 'L') {
        paxPath = cString(text, 0, text.length);
      } else if (typeflag === 'K') {
        paxLink = cString(text, 0, text.length);
      }
      continue;
    }
    const prefix = cString(header, 345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
    const entry = {
      path: name.replace(/\/+$/, '').replace(/^\.\//, ''),
      type: typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' as const
        : typeflag === '5' ? 'directory' as const
        : typeflag === '2' ? 'symlink' as const
        : 'other' as const,
      size,
      mode: readNumber(header, 100, 8) & 0o7777,
      mtimeMs: paxMtime ?? readNumber(header, 136, 12) * 1000,
      linkTarget: paxLink ?? cString(header, 157, 100),
    };
    paxPath = paxSize = paxLink = paxMtime = undefined;
    const body = reader.body(size, padded - size);
    yield { ...entry, body: Readable.from(body, { objectMode: false }) };
    await reader.finishBody();
  }
}

/** The tar layer over a ByteReader: headers are read whole, bodies streamed, padding skipped. */
class TarReader {
  readonly #bytes: ByteReader;
  #bodyLeft = 0;
  #paddingLeft = 0;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.#bytes = new ByteReader(source);
  }

  /** Exactly `n` bytes, or undefined at a clean end of stream before any of them. */
  async readExact(n: number): Promise<Buffer | undefined> {
    const out = await this.#bytes.read(n);
    if (out.length === 0 && n > 0) return undefined;
    if (out.length < n) truncated();
    return out;
  }

  /** Yields the next `size` bytes as they arrive, then remembers `padding` bytes to skip. */
  body(size: number, padding: number): AsyncGenerator<Buffer> {
    // Set now, not at the first read: a body nobody reads must still be skipped by finishBody.
    this.#bodyLeft = size;
    this.#paddingLeft = padding;
    return this.#bodyPieces();
  }

  async *#bodyPieces(): AsyncGenerator<Buffer> {
    while (this.#bodyLeft > 0) {
      const piece = await this.#bytes.readSome(this.#bodyLeft);
      if (piece.length === 0) truncated();
      this.#bodyLeft -= piece.length;
      // A copy: the consumer may keep the buffer after the reader has moved on.
      yield Buffer.from(piece);
    }
  }

  /** Skips whatever the consumer left of the current body, and its padding. */
  async finishBody(): Promise<void> {
    const skip = this.#bodyLeft + this.#paddingLeft;
    this.#bodyLeft = 0;
    this.#paddingLeft = 0;
    if (!(await this.#bytes.skip(skip))) truncated();
  }
}

function readNumber(header: Buffer, offset: number, length: number): number {
  const first = header[offset]!;
  if (first & 0x80) {
    // GNU base-256 for values that do not fit in octal (files over 8 GiB).
    let value = first & 0x7f;
    for (let i = 1; i < length; i += 1) value = value * 256 + header[offset + i]!;
    return value;
  }
  const text = cString(header, offset, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function cString(buffer: Buffer, offset: number, length: number): string {
  const slice = buffer.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? slice.length : end).toString('utf8');
}

function verifyChecksum(header: Buffer): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  const stored = readNumber(header, 148, 8);
  if (stored !== sum) throw new Error(`tar stream: header checksum mismatch (stored ${stored}, computed ${sum}); the stream is not a tar archive or is corrupt`);
}

function parsePax(data: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) out.push([record.slice(0, equals), record.slice(equals + 1)]);
    offset += length;
  }
  return out;
}

function truncated(): never {
  throw new Error('tar stream ended in the middle of an entry; the producer stopped early (see its error output)');
}
