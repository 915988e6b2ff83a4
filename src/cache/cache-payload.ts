import type { MemoryEntry } from './memory-tier.js';

/**
 * A value as the shared tier stores it: JSON of `[graceMs, tags, value]`. The grace travels with the value so that any
 * process can tell fresh from stale by the key's remaining lifetime alone (Redis' PTTL: no clocks compared across
 * machines), and the tags so that a process that read the value can drop it when one of them is invalidated.
 */
export function encodePayload(graceMs: number, tags: readonly string[], value: unknown): string {
  return JSON.stringify([graceMs, tags, value]);
}

/** The memory entry for a payload read with `remainingMs` to live, at version `version`; undefined if not ours. */
export function decodePayload(payload: string, remainingMs: number, version: number, now: number): MemoryEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[0] !== 'number' || !Array.isArray(parsed[1])) return undefined;
  const [grace, tags, value] = parsed as [number, string[], unknown];
  return { value, freshUntil: now + remainingMs - grace, staleUntil: now + remainingMs, version, tags, size: payload.length };
}
