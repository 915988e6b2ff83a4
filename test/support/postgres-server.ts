import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server every machine of this kind runs (trust auth). Override with DATAKEEP_TEST_PG_URL. */
export const PG_ADMIN_URL = process.env.DATAKEEP_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly config: { type: 'postgresql'; host: string; port: number; database: string; username: string };
  drop(): Promise<void>;
}

/** A fresh database for one test file or test, dropped (with its connections) by `drop()`. */
export async function createTestDatabase(prefix = 'dk_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const base = new URL(PG_ADMIN_URL);
  const url = `${base.protocol}//${base.username}${base.password ? `:${base.password}` : ''}@${base.host}/${name}`;
  return {
    name,
    url,
    config: { type: 'postgresql', host: base.hostname, port: Number(base.port || 5432), database: name, username: decodeURIComponent(base.username) },
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
