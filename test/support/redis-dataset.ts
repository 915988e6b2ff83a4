import { Redis } from 'ioredis';

/** Writes keys of every type (string, hash, list, set, zset, stream; some with TTLs) into db `db` under `prefix`. */
export async function writeEveryType(client: Redis, prefix: string): Promise<void> {
  const p = client.pipeline();
  p.set(`${prefix}:str`, 'hello');
  p.set(`${prefix}:bin`, Buffer.from([0, 1, 2, 255, 13, 10]));
  p.set(`${prefix}:ttl`, 'expires', 'EX', 3600);
  p.hset(`${prefix}:hash`, { a: '1', b: 'two', c: 'x'.repeat(200) });
  p.rpush(`${prefix}:list`, 'l1', 'l2', 'l3');
  p.sadd(`${prefix}:set`, 's1', 's2', 's3');
  p.sadd(`${prefix}:intset`, '1', '2', '3');
  p.zadd(`${prefix}:zset`, 1, 'one', 2.5, 'two-and-half', -3, 'minus');
  p.xadd(`${prefix}:stream`, '1-1', 'f', 'v1');
  p.xadd(`${prefix}:stream`, '2-1', 'f', 'v2');
  p.hset(`${prefix}:hash-ttl`, { k: 'v' });
  p.pexpire(`${prefix}:hash-ttl`, 7_200_000);
  for (let i = 0; i < 300; i += 1) p.set(`${prefix}:many:${i}`, `value ${i}`);
  await p.exec();
}

/** Every key of every database with its type, content and whether it has a TTL: two servers compare equal by this. */
export async function describeData(client: Redis): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const keyspace = await client.info('keyspace');
  for (const m of keyspace.matchAll(/^db(\d+):keys=/gm)) {
    const db = client.duplicate({ db: Number(m[1]) });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await db.scan(cursor, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const type = await db.type(key);
          const ttl = await db.pttl(key);
          let value: unknown;
          if (type === 'string') value = (await db.getBuffer(key))?.toString('hex');
          else if (type === 'hash') value = Object.entries(await db.hgetall(key)).sort();
          else if (type === 'list') value = await db.lrange(key, 0, -1);
          else if (type === 'set') value = (await db.smembers(key)).sort();
          else if (type === 'zset') value = await db.call('ZRANGE', key, '0', '-1', 'WITHSCORES');
          else if (type === 'stream') value = await db.xrange(key, '-', '+');
          out[`db${m[1]}/${key}`] = { type, value, ttl: ttl > 0 ? 'ttl' : ttl };
        }
      } while (cursor !== '0');
    } finally {
      db.disconnect();
    }
  }
  return out;
}
