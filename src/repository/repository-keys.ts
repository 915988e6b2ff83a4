import { hkdfSync } from 'node:crypto';

/** Keys derived from the master key with HKDF-SHA256, one per purpose, so that no key serves two roles. */
export interface RepositoryKeys {
  /** AES-256-GCM key of every object. */
  readonly encryption: Buffer;
  /** HMAC-SHA256 key of chunk ids: ids name content without exposing plain SHA-256 hashes of it. */
  readonly chunkId: Buffer;
  /** 1024 bytes that seed the chunker's gear table: chunk boundaries (and so chunk sizes) leak nothing either. */
  readonly gearSeed: Buffer;
}

/** The master key is 256 random bits, so HKDF needs no salt. */
export function deriveRepositoryKeys(masterKey: Buffer): RepositoryKeys {
  const derive = (purpose: string, length: number): Buffer =>
    Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), Buffer.from(`datakeep ${purpose}`), length));
  return { encryption: derive('object encryption', 32), chunkId: derive('chunk id', 32), gearSeed: derive('gear table', 1024) };
}
