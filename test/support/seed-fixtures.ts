import pg from 'pg';
import { PG_ADMIN_URL } from './postgres-server.js';

/**
 * The seed's examples connect as user "user" / password "pass" to database app_db on localhost:5432. This makes
 * that exist (trust auth ignores the password) with a `users` table, so the examples can run unchanged.
 * Only the seed-example tests use app_db.
 */
export async function prepareSeedDatabase(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DO $$ BEGIN CREATE ROLE "user" LOGIN PASSWORD 'pass'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'app_db'");
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE app_db OWNER "user"');
  } finally {
    await admin.end();
  }
  const base = new URL(PG_ADMIN_URL);
  base.pathname = '/app_db';
  const app = new pg.Client({ connectionString: base.toString() });
  await app.connect();
  try {
    await app.query('DROP TABLE IF EXISTS users');
    await app.query('CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, active boolean NOT NULL, last_login timestamptz)');
    await app.query('GRANT ALL ON users TO "user"');
    await app.query('GRANT ALL ON SEQUENCE users_id_seq TO "user"');
    await app.query("INSERT INTO users (name, active) VALUES ('ada', true), ('bob', false), ('cy', true)");
  } finally {
    await app.end();
  }
}
