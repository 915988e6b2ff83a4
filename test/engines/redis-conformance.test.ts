import { randomInt } from 'node:crypto';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { adapterConformanceSuite, type ConformanceTarget } from '../support/adapter-conformance.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

const SHARED_PORT = Number(process.env.DATAKEEP_TEST_REDIS_PORT ?? 6379);
const KEY_PREFIX = 'dk:conformance:';

const roundTrip: ConformanceTarget['roundTrip'] = {
  write: (key, value) => `SET ${key} "${value}"`,
  read: (key) => ['GET', key],
};

/** Deletes only the keys the suite wrote, so that a db index shared with someone else keeps their data. */
async function deletePrefixed(port: number, db: number): Promise<void> {
  const client = new Redis({ host: '127.0.0.1', port, db, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = (await client.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 1000)) as [string, string[]];
      cursor = next;
      if (keys.length) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** A db index in 1..15 that holds no keys right now on the shared server (db 0 is the seed's and others'). */
async function pickEmptyDb(port: number): Promise<number> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const db = randomInt(1, 16);
      await client.select(db);
      if ((await client.dbsize()) === 0) return db;
    }
    throw new Error(`no empty db index among 1..15 on 127.0.0.1:${port}`);
  } finally {
    client.disconnect();
  }
}

function adapterFor(config: DatabaseConfig): RedisAdapter {
  return new RedisAdapter(resolveDatabaseConfig(config, 'test'), { logger: silentLogger });
}

adapterConformanceSuite({
  name: `redis (127.0.0.1:${SHARED_PORT}, a free db index)`,
  roundTrip,
  async create() {
    const db = await pickEmptyDb(SHARED_PORT);
    const adapter = adapterFor({ type: 'redis', host: '127.0.0.1', port: SHARED_PORT, database: String(db) });
    return { adapter, teardown: () => deletePrefixed(SHARED_PORT, db) };
  },
});

let throwaway: ThrowawayRedis;
before(async () => {
  throwaway = await ThrowawayRedis.start({ name: 'redis-conformance' });
});
after(async () => {
  await throwaway?.stop();
});

adapterConformanceSuite({
  name: 'redis (throwaway redis-server on a free port, URL form)',
  roundTrip,
  async create() {
    const adapter = adapterFor({ url: `redis://127.0.0.1:${throwaway.port}/3` });
    return { adapter, teardown: async () => undefined };
  },
});
