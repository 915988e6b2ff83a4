import { DataLifecycleError } from '../../../errors/index.js';

/** A key name as a row key and in records: its text when the bytes are UTF-8, else `{base64}` of the bytes. */
export type RedisKeyName = string | { readonly base64: string };

/** One archived key: its name, its PTTL when read (-1: no expiry) and its value as DUMP returned it. */
export interface RedisRecord {
  readonly key: Buffer;
  readonly ttl: number;
  /** Absent in the records of delete-only policies, which never read values. */
  readonly dump: Buffer | undefined;
}

export function keyName(bytes: Buffer): RedisKeyName {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : { base64: bytes.toString('base64') };
}

export function keyBytes(name: unknown): Buffer {
  if (typeof name === 'string') return Buffer.from(name, 'utf8');
  if (typeof name === 'object' && name !== null && typeof (name as { base64?: unknown }).base64 === 'string') return Buffer.from((name as { base64: string }).base64, 'base64');
  throw new DataLifecycleError('archive-mismatch', undefined, `not a Redis key in an archive: ${JSON.stringify(name)}`);
}

/**
 * The record as one line: `{"key": text, "ttl": PTTL, "dump": base64 of DUMP}` (`keyBase64` instead of `key` for a name
 * that is not UTF-8). A restore runs `RESTORE key ttl dump`: the serialized value goes back byte for byte, with the
 * time it had left to live when it was archived.
 */
export function encodeRecord(record: RedisRecord): string {
  const name = keyName(record.key);
  return JSON.stringify({
    ...(typeof name === 'string' ? { key: name } : { keyBase64: name.base64 }),
    ttl: record.ttl,
    ...(record.dump === undefined ? {} : { dump: record.dump.toString('base64') }),
  });
}

export function decodeRecord(text: string): RedisRecord {
  const parsed = JSON.parse(text) as { key?: string; keyBase64?: string; ttl?: number; dump?: string };
  const key = parsed.key !== undefined ? Buffer.from(parsed.key, 'utf8') : parsed.keyBase64 !== undefined ? Buffer.from(parsed.keyBase64, 'base64') : undefined;
  if (key === undefined || typeof parsed.ttl !== 'number') throw new DataLifecycleError('archive-mismatch', undefined, `not a Redis lifecycle record: ${text.slice(0, 80)}`);
  return { key, ttl: parsed.ttl, dump: parsed.dump === undefined ? undefined : Buffer.from(parsed.dump, 'base64') };
}
