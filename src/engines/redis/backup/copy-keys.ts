import { Redis, type RedisOptions } from 'ioredis';
import { RedisBackupError } from './redis-backup-error.js';

const BATCH = 500;

/**
 * Copies the keys matching `pattern` (Redis glob, default every key) of every database of `source` into the same
 * database of `target` with DUMP/RESTORE, keeping each key's remaining TTL. Unless `replace`, it first checks that
 * none of them exists on the target and refuses before writing anything (a restore never silently overwrites live
 * data). Memory stays at one SCAN batch.
 */
export async function copyKeys(input: { source: RedisOptions; target: RedisOptions; pattern: string | undefined; replace: boolean; signal?: AbortSignal }): Promise<{ keys: number; databases: number[] }> {
  const source = new Redis({ ...input.source, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await source.connect();
    const keyspace = await source.info('keyspace');
    const databases = [...keyspace.matchAll(/^db(\d+):keys=/gm)].map((m) => Number(m[1]));
    if (!input.replace) {
      for (const db of databases) await eachBatch(source, input.target, db, input.pattern, async (keys, _from, to) => {
        const exists = await Promise.all(keys.map((key) => to.exists(key)));
        const taken = keys.filter((_k, i) => exists[i] === 1);
        if (taken.length > 0) {
          throw new RedisBackupError('unsafe-destination', `the target already has ${taken.length > 1 ? `${taken.length} of the keys` : 'a key'} to restore in db ${db} (e.g. "${taken[0]!.toString('utf8').slice(0, 80)}"); pass target.replace to overwrite them, or a keyPattern that leaves them out`);
        }
      }, input.signal);
    }
    let copied = 0;
    for (const db of databases) await eachBatch(source, input.target, db, input.pattern, async (keys, from, to) => {
      const read = from.pipeline();
      for (const key of keys) read.dumpBuffer(key).pttl(key);
      const results = (await read.exec()) ?? [];
      const write = to.pipeline();
      let queued = 0;
      for (let i = 0; i < keys.length; i += 1) {
        const payload = results[2 * i]?.[1] as Buffer | null;
        const ttl = results[2 * i + 1]?.[1] as number;
        if (payload === null || payload === undefined || ttl === -2) continue; // expired between SCAN and DUMP
        if (input.replace) write.restore(keys[i]!, ttl > 0 ? ttl : 0, payload, 'REPLACE');
        else write.restore(keys[i]!, ttl > 0 ? ttl : 0, payload);
        queued += 1;
      }
      const written = (await write.exec()) ?? [];
      const failed = written.find(([error]) => error !== null);
      if (failed) throw new RedisBackupError('restore-failed', `the target refused RESTORE in db ${db}: ${(failed[0] as Error).message}`, { cause: failed[0] });
      copied += queued;
    }, input.signal);
    return { keys: copied, databases };
  } finally {
    source.disconnect();
  }
}

async function eachBatch(source: Redis, targetOptions: RedisOptions, db: number, pattern: string | undefined, fn: (keys: Buffer[], from: Redis, to: Redis) => Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  const from = source.duplicate({ db });
  const to = new Redis({ ...targetOptions, db, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await to.connect().catch((error: Error) => {
      throw new RedisBackupError('connection-failed', `could not connect to the restore target: ${error.message}`, { cause: error });
    });
    let cursor = '0';
    do {
      signal?.throwIfAborted();
      const [next, keys] = pattern === undefined ? await from.scanBuffer(cursor, 'COUNT', BATCH) : await from.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', BATCH);
      cursor = next.toString();
      if (keys.length > 0) await fn(keys, from, to);
    } while (cursor !== '0');
  } finally {
    from.disconnect();
    to.disconnect();
  }
}
