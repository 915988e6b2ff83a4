import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';
import { createMariadbTestDatabase } from './mariadb-server.js';
import { newPrefix, type PartNamespace } from './part-namespace.js';
import { createTestDatabase } from './postgres-server.js';
import type { ThrowawayPostgres } from './throwaway-postgres.js';

/** Redis on the machine's server; suites keep to a key prefix of their own there. Override with DATAKEEP_TEST_REDIS_URL. */
const REDIS_URL = process.env.DATAKEEP_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** A fresh database on the machine's PostgreSQL server (max_prepared_transactions = 0 there). */
export async function postgresNamespace(): Promise<PartNamespace> {
  const db = await createTestDatabase('dk_parts');
  return { config: { ...db.config, poolSize: 6 }, prefix: newPrefix(), shared: true, teardown: () => db.drop() };
}

/** A fresh database on a throwaway cluster (one started with the settings a test needs, e.g. prepared transactions). */
export async function clusterNamespace(cluster: ThrowawayPostgres): Promise<PartNamespace> {
  const prefix = newPrefix();
  await cluster.query(`CREATE DATABASE ${prefix}`);
  return {
    config: { ...cluster.config, database: prefix, poolSize: 6 },
    prefix,
    shared: true,
    teardown: async () => {
      await cluster.query(`DROP DATABASE IF EXISTS ${prefix} WITH (FORCE)`);
    },
  };
}

/** A PGlite database in a temp directory of its own. */
export async function pgliteNamespace(): Promise<PartNamespace> {
  const dir = mkdtempSync(join(tmpdir(), 'dk-parts-pglite-'));
  return {
    config: { type: 'pglite', dataDir: join(dir, 'data') },
    prefix: newPrefix(),
    shared: false,
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh database on the machine's MariaDB server. */
export async function mariadbNamespace(): Promise<PartNamespace> {
  const db = await createMariadbTestDatabase('dk_parts');
  return { config: { ...db.config, poolSize: 6 }, prefix: newPrefix(), shared: true, teardown: () => db.drop() };
}

/** A key prefix of its own on the machine's Redis server; teardown deletes exactly the keys under it. */
export async function redisNamespace(): Promise<PartNamespace> {
  const prefix = newPrefix();
  return {
    config: { url: REDIS_URL },
    prefix,
    shared: true,
    teardown: async () => {
      const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = (await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [string, string[]];
          cursor = next;
          if (keys.length) await client.del(...keys);
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  };
}

/** A fresh database on the MongoDB deployment at `url`, dropped by teardown. */
export async function mongodbNamespace(url: string): Promise<PartNamespace> {
  const prefix = newPrefix();
  return {
    config: { url, database: prefix },
    prefix,
    shared: true,
    teardown: async () => {
      const client = new MongoClient(url);
      try {
        await client.db(prefix).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}
