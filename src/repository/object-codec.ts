import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RepositoryError } from '../errors/repository-error.js';
import { COMPRESSION_IDS, compressionById, type CompressionCodec } from './compression-codec.js';

/**
 * Every repository object but the key files is `header || ciphertext || tag`:
 *   header = "DK" (2 bytes) | object format version (1 byte) | compression id (1 byte) | nonce (12 random bytes)
 *   ciphertext = AES-256-GCM(compress(plaintext)), tag = the 16-byte GCM tag
 * The additional authenticated data is the header followed by the object's storage key, so an object moved or copied
 * under another key (one chunk swapped for another, a manifest for another backup's) fails authentication.
 */
export const OBJECT_FORMAT_VERSION = 1;
const MAGIC_0 = 0x44;
const MAGIC_1 = 0x4b;
export const HEADER_LENGTH = 16;
const TAG_LENGTH = 16;

export function encodeObject(key: string, plaintext: Uint8Array, codec: CompressionCodec, encryptionKey: Buffer): Buffer {
  const compressed = codec.compress(plaintext);
  const header = Buffer.allocUnsafe(HEADER_LENGTH);
  header[0] = MAGIC_0;
  header[1] = MAGIC_1;
  header[2] = OBJECT_FORMAT_VERSION;
  header[3] = COMPRESSION_IDS[codec.type];
  randomBytes(12).copy(header, 4);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey, header.subarray(4, 16));
  cipher.setAAD(Buffer.concat([header, Buffer.from(key, 'utf8')]));
  const out = Buffer.allocUnsafe(HEADER_LENGTH + compressed.length + TAG_LENGTH);
  header.copy(out, 0);
  const body = cipher.update(compressed);
  body.copy(out, HEADER_LENGTH);
  const final = cipher.final();
  final.copy(out, HEADER_LENGTH + body.length);
  cipher.getAuthTag().copy(out, HEADER_LENGTH + body.length + final.length);
  return out;
}

/** Authenticates, decrypts and decompresses an object; a wrong key, a flipped byte or a swapped object all throw
 * RepositoryError('corrupt-object') naming the key, never return garbage. */
export function decodeObject(key: string, data: Buffer, codec: CompressionCodec, encryptionKey: Buffer): Buffer {
  if (data.length < HEADER_LENGTH + TAG_LENGTH || data[0] !== MAGIC_0 || data[1] !== MAGIC_1) {
    throw new RepositoryError('corrupt-object', `repository object ${key} is not a datakeep object (bad header or truncated); restore it from a copy of the repository`, { object: key });
  }
  if (data[2] !== OBJECT_FORMAT_VERSION) {
    throw new RepositoryError('unsupported-format', `repository object ${key} has format version ${data[2]}, this datakeep reads version ${OBJECT_FORMAT_VERSION}; upgrade datakeep`, { object: key });
  }
  const compression = compressionById(data[3]!);
  if (compression === undefined) {
    throw new RepositoryError('corrupt-object', `repository object ${key} names unknown compression id ${data[3]}`, { object: key });
  }
  const header = data.subarray(0, HEADER_LENGTH);
  let compressed: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey, header.subarray(4, 16));
    decipher.setAAD(Buffer.concat([header, Buffer.from(key, 'utf8')]));
    decipher.setAuthTag(data.subarray(data.length - TAG_LENGTH));
    const body = decipher.update(data.subarray(HEADER_LENGTH, data.length - TAG_LENGTH));
    const final = decipher.final();
    compressed = final.length === 0 ? body : Buffer.concat([body, final]);
  } catch (cause) {
    throw new RepositoryError('corrupt-object', `repository object ${key} failed authentication (corrupted on disk, truncated, or moved from another key); restore it from a copy of the repository`, { object: key, cause });
  }
  try {
    return codec.decompress(compression, compressed);
  } catch (cause) {
    throw new RepositoryError('corrupt-object', `repository object ${key} authenticated but does not decompress (${compression})`, { object: key, cause });
  }
}
