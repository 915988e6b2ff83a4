import type { CacheStamp, InvalidationMessage, SharedCacheStore, SharedRead } from '../../cache/cache-part.js';
import { QueryError } from '../../errors/index.js';
import type { RedisAdapter } from './redis-adapter.js';
import { INVALIDATE, READ, UNLOCK, WRITE, type RedisScript } from './redis-cache-scripts.js';

/** SCAN batch of clear(): small enough that one UNLINK never blocks the server for long. */
const CLEAR_BATCH = 500;

/**
 * The cache's shared tier on Redis. Keys under `prefix`: `:v:<key>` the payload (PX = fresh time + grace),
 * `:g:<key>` and `:tg:<tag>` tombstones (the number of the last invalidation, PX = tombstone time), `:ts:<tag>` the
 * keys stored under a tag, `:l:<key>` the load lock, `:clock` the invalidation counter (never expires: numbers only
 * grow), and the channel `:bus`. Commands go through the adapter, so its breaker, metrics and reconnects apply.
 */
export class RedisCacheStore implements SharedCacheStore {
  readonly #channel: string;

  constructor(
    private readonly adapter: RedisAdapter,
    private readonly prefix: string,
    private readonly tombstoneMs: number,
    private readonly origin: string,
  ) {
    this.#channel = `${prefix}:bus`;
  }

  async read(key: string, tags: readonly string[], lock?: { readonly token: string; readonly ttlMs: number }): Promise<SharedRead> {
    const p = this.prefix;
    const keys = [`${p}:v:${key}`, `${p}:l:${key}`, `${p}:g:${key}`];
    for (const tag of tags) keys.push(`${p}:tg:${tag}`);
    const reply = (await this.#eval(READ, keys, [lock?.token ?? '', String(lock?.ttlMs ?? 0)])) as [string | null, number, number, ...string[]];
    const stamp = reply.slice(3) as string[];
    let version = 0;
    for (const s of stamp) if (s !== '' && Number(s) > version) version = Number(s);
    const held = Number(reply[2]);
    return { payload: reply[0] ?? null, remainingMs: reply[0] === null ? 0 : Math.max(0, Number(reply[1])), lock: held === 1 ? 'mine' : held === 2 ? 'other' : 'none', stamp, version };
  }

  async write(key: string, payload: string, lifetimeMs: number, tags: readonly string[], stamp: CacheStamp | undefined, lockToken = ''): Promise<number | false> {
    const p = this.prefix;
    const keys = [`${p}:v:${key}`, `${p}:clock`, `${p}:g:${key}`];
    for (const tag of tags) keys.push(`${p}:tg:${tag}`);
    for (const tag of tags) keys.push(`${p}:ts:${tag}`);
    keys.push(`${p}:l:${key}`);
    const mode = stamp ? 'c' : 'f';
    const args = [payload, String(Math.max(1, Math.ceil(lifetimeMs))), mode, String(this.tombstoneMs), this.#channel, this.origin, key, String(tags.length), lockToken, ...(stamp ?? [])];
    const reply = Number(await this.#eval(WRITE, keys, args));
    if (reply === 0) return false;
    return stamp ? 1 : reply;
  }

  async invalidate(keys: readonly string[], tags: readonly string[]): Promise<number> {
    const args = [this.prefix, String(this.tombstoneMs), this.#channel, this.origin, String(keys.length), ...keys, ...tags];
    return Number(await this.#eval(INVALIDATE, [`${this.prefix}:clock`], args));
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.#eval(UNLOCK, [`${this.prefix}:l:${key}`], [token]);
  }

  async subscribe(handler: (message: InvalidationMessage) => void, onGap: () => void): Promise<() => Promise<void>> {
    const unsubscribe = await this.adapter.subscribe(this.#channel, (text) => {
      const message = parseMessage(text);
      if (message) handler(message);
    });
    const stopGaps = this.adapter.onSubscriptionGap(onGap);
    return async () => {
      stopGaps();
      await unsubscribe();
    };
  }

  async clear(): Promise<void> {
    // Payloads and tag sets go; tombstones and the clock stay, so that numbers keep growing and loads still running
    // keep being refused.
    for (const pattern of [`${this.prefix}:v:*`, `${this.prefix}:ts:*`]) {
      let cursor = '0';
      do {
        const [next, found] = (await this.adapter.command(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(CLEAR_BATCH)])) as [string, string[]];
        if (found.length > 0) await this.adapter.command(['UNLINK', ...found]);
        cursor = next;
      } while (cursor !== '0');
    }
    await this.adapter.publish(this.#channel, JSON.stringify({ v: 0, k: [], t: [], o: '', all: true }));
  }

  /** EVALSHA, and EVAL once when the server does not have the script yet (after a restart or SCRIPT FLUSH). */
  async #eval(s: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await this.adapter.command(['EVALSHA', s.sha, String(keys.length), ...keys, ...args]);
    } catch (error) {
      if (!(error instanceof QueryError) || error.sqlState !== 'NOSCRIPT') throw error;
      return this.adapter.command(['EVAL', s.text, String(keys.length), ...keys, ...args]);
    }
  }
}

/** A bus message; anything else on the channel (another program's) is ignored. cjson writes an empty list as {}. */
function parseMessage(text: string): InvalidationMessage | undefined {
  let raw: { v?: unknown; k?: unknown; t?: unknown; o?: unknown; all?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.v !== 'number') return undefined;
  const list = (value: unknown) => (Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string') : []);
  return { version: raw.v, keys: list(raw.k), tags: list(raw.t), origin: typeof raw.o === 'string' ? raw.o : '', all: raw.all === true };
}
