import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError } from '../../../errors/index.js';
import type { LifecycleDriver, LifecycleRow, TargetInspection } from '../../../lifecycle/lifecycle-part.js';
import { parseRedisInfo, parseRedisReplicas } from '../parse-redis-info.js';
import type { RedisAdapter } from '../redis-adapter.js';
import { matchRedisPattern } from './match-redis-pattern.js';
import { filterArguments, redisKeyFilter, type RedisKeyFilter } from './redis-key-filter.js';
import { DUMP_KEY, REMOVE_EXACT, REMOVE_MATCHING, RESTORE_ALL, SCAN_PAGE } from './redis-lifecycle-scripts.js';
import { decodeRecord, encodeRecord, keyBytes, keyName } from './redis-record.js';

/** A key pattern as the Redis lifecycle driver uses it. */
interface RedisTarget extends TargetInspection {
  readonly filter: RedisKeyFilter;
}

/** Keys examined per SCAN page while counting (the plan and the would-remove-all check). */
const COUNT_PAGE = 1000;

function redis(adapter: DatabaseAdapter): RedisAdapter {
  return adapter as RedisAdapter;
}

function target(inspection: TargetInspection): RedisTarget {
  return inspection as RedisTarget;
}

function evalArgs(script: string, keys: readonly Buffer[], args: readonly (string | Buffer)[]): unknown[] {
  return ['EVAL', script, String(keys.length), ...keys, ...args];
}

/** One SCAN page's matching keys (bytes) and their PTTLs, and the cursor after it. */
async function scanPage(adapter: DatabaseAdapter, filter: RedisKeyFilter, cursor: string, count: number): Promise<{ cursor: string; keys: { key: Buffer; ttl: number }[] }> {
  const reply = (await adapter.command(evalArgs(SCAN_PAGE, [], [cursor, filter.pattern, String(count), ...filterArguments(filter)]))) as (string | number)[];
  const keys: { key: Buffer; ttl: number }[] = [];
  for (let i = 1; i < reply.length; i += 2) keys.push({ key: Buffer.from(String(reply[i]), 'hex'), ttl: Number(reply[i + 1]) });
  return { cursor: String(reply[0]), keys };
}

/** The keys' records with their values (DUMP), one small script per key in one round trip; keys gone meanwhile are left out. */
async function readRecords(adapter: DatabaseAdapter, keys: readonly Buffer[]): Promise<LifecycleRow[]> {
  if (keys.length === 0) return [];
  const replies = await redis(adapter).pipeline(keys.map((key) => evalArgs(DUMP_KEY, [key], [])));
  const rows: LifecycleRow[] = [];
  replies.forEach((reply, i) => {
    if (reply instanceof Error) throw reply;
    if (!Array.isArray(reply)) return;
    const key = keys[i]!;
    rows.push({ key: [keyName(key)], record: encodeRecord({ key, ttl: Number(reply[0]), dump: Buffer.from(String(reply[1]), 'hex') }) });
  });
  return rows;
}

/**
 * Data lifecycle on Redis: keys matching a pattern (SCAN MATCH ... COUNT, the cursor carried from batch to batch as
 * `next`) that meet the policy's conditions (idle time, expiry set or not, type), removed with UNLINK. Archived keys
 * are their DUMP (base64) and PTTL; a restore RESTOREs them, refusing (BUSYKEY) if any key exists. Redis has no locks:
 * the lock timeout does not apply, and each key's check-and-remove is atomic (a script).
 */
export const redisLifecycle: LifecycleDriver = {
  targets: 'keyPattern',

  async inspect(adapter, policy) {
    const filter = redisKeyFilter(policy);
    if (filter.idleSeconds !== undefined) {
      // Under an LFU eviction policy Redis tracks access frequency instead of idle time: OBJECT IDLETIME fails.
      const setting = (await adapter.command(['CONFIG', 'GET', 'maxmemory-policy']).catch(() => [])) as string[];
      if (String(setting[1] ?? '').includes('lfu')) {
        throw new DataLifecycleError('bad-condition', policy.name, `the server's maxmemory-policy is ${setting[1]}, under which Redis does not track idle time; remove "idleSeconds" or use an LRU or noeviction policy`);
      }
    }
    return {
      target: filter.pattern,
      key: ['key'],
      schema: [{ name: 'key', type: 'string' }, { name: 'ttl', type: 'PTTL milliseconds (-1: none)' }, { name: 'dump', type: 'base64 of DUMP' }],
      filter,
    } satisfies RedisTarget;
  },

  async count(adapter, _policy, inspection) {
    const { filter } = target(inspection);
    let cursor = '0';
    let rows = 0;
    let firstKey: unknown[] | undefined;
    let lastKey: unknown[] | undefined;
    do {
      const page = await scanPage(adapter, filter, cursor, COUNT_PAGE);
      cursor = page.cursor;
      rows += page.keys.length;
      if (page.keys.length) {
        firstKey ??= [keyName(page.keys[0]!.key)];
        lastKey = [keyName(page.keys.at(-1)!.key)];
      }
    } while (cursor !== '0');
    // Counted after the scan: keys written meanwhile make the total larger, never "every key matches" falsely.
    const total = Number(await adapter.command(['DBSIZE']));
    return { rows, total, firstKey, lastKey };
  },

  async nextBatch(adapter, policy, inspection, after, limit) {
    const { filter } = target(inspection);
    let cursor = after === undefined ? '0' : String(after[0]);
    // A cursor back at 0 after the first page means the scan went all the way round.
    if (after !== undefined && cursor === '0') return { rows: [], next: ['0'] };
    const rows: LifecycleRow[] = [];
    do {
      // COUNT is a hint: a page can hold a few more keys than asked, so a batch may pass `limit` slightly.
      const page = await scanPage(adapter, filter, cursor, Math.max(10, limit - rows.length));
      cursor = page.cursor;
      // A delete-only policy never reads values: DUMP would cost the transfer and reset the key's idle time.
      if (policy.action === 'archive') rows.push(...(await readRecords(adapter, page.keys.map((k) => k.key))));
      else rows.push(...page.keys.map(({ key, ttl }) => ({ key: [keyName(key)], record: encodeRecord({ key, ttl, dump: undefined }) })));
    } while (rows.length < limit && cursor !== '0');
    return { rows, next: [cursor] };
  },

  async remove(adapter, _policy, inspection, rows, { exact }) {
    if (rows.length === 0) return { removed: 0, lockWaitMs: 0 };
    const started = performance.now();
    let removed = 0;
    if (exact) {
      // One script per key, all in one round trip: each key goes only if its value is still the archived one.
      const records = rows.map((r) => decodeRecord(r.record));
      const replies = await redis(adapter).pipeline(records.map((r) => evalArgs(REMOVE_EXACT, [r.key], [r.dump ?? Buffer.alloc(0)])));
      for (const reply of replies) {
        if (reply instanceof Error) throw reply;
        removed += Number(reply);
      }
    } else {
      const keys = rows.map((r) => keyBytes(r.key[0]));
      removed = Number(await adapter.command(evalArgs(REMOVE_MATCHING, keys, filterArguments(target(inspection).filter))));
    }
    return { removed, lockWaitMs: performance.now() - started };
  },

  async fetch(adapter, _inspection, keys) {
    return readRecords(adapter, keys.map((k) => keyBytes(k[0])));
  },

  async insert(adapter, into, records) {
    if (records.length === 0) return 0;
    const decoded = records.map(decodeRecord);
    const outside = decoded.find((r) => !matchRedisPattern(into, r.key));
    if (outside) throw new DataLifecycleError('unknown-target', undefined, `key ${JSON.stringify(keyName(outside.key))} does not match "${into}"; Redis archives go back under their own names: give the archive's key pattern (the default), and another database with --database`);
    const missing = decoded.find((r) => r.dump === undefined);
    if (missing) throw new DataLifecycleError('archive-mismatch', undefined, `the record of ${JSON.stringify(keyName(missing.key))} holds no value (a delete-only policy wrote it); nothing to restore`);
    // RESTORE's 0 is "no expiry" (archived as -1); a key that had time left gets that much again from the restore.
    const args = decoded.flatMap((r) => [String(Math.max(0, r.ttl)), r.dump!]);
    return Number(await adapter.command(evalArgs(RESTORE_ALL, decoded.map((r) => r.key), args)));
  },

  async pressure(adapter) {
    // A master's INFO lists its replicas with the seconds since each last acknowledged the stream.
    const replicas = parseRedisReplicas(parseRedisInfo(String(await adapter.command(['INFO', 'replication']))));
    return { replicaLagSeconds: replicas.length ? Math.max(...replicas.map((r) => r.lagSeconds)) : undefined };
  },
};
