import { randomBytes } from 'node:crypto';
import mariadb, { type Connection } from 'mariadb';

/** The MariaDB server every machine of this kind runs (root, empty password). Override with DATAKEEP_TEST_MARIADB_URL. */
export const MARIADB_ADMIN_URL = process.env.DATAKEEP_TEST_MARIADB_URL ?? 'mariadb://root@127.0.0.1:3306/';

function adminOptions() {
  const url = new URL(MARIADB_ADMIN_URL);
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

export interface MariadbTestDatabase {
  readonly name: string;
  readonly config: { type: 'mariadb'; host: string; port: number; database: string; username: string; password?: string };
  /** A direct admin connection (no database selected), for raw SQL a test needs outside the adapter. */
  admin(): Promise<Connection>;
  drop(): Promise<void>;
}

/** A fresh database for one test file, dropped by `drop()`. */
export async function createMariadbTestDatabase(prefix = 'dk_test'): Promise<MariadbTestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const options = adminOptions();
  const admin = () => mariadb.createConnection(options);
  const conn = await admin();
  try {
    await conn.query(`CREATE DATABASE \`${name}\``);
  } finally {
    await conn.end();
  }
  return {
    name,
    config: { type: 'mariadb', host: options.host, port: options.port, database: name, username: options.user, ...(options.password ? { password: options.password } : {}) },
    admin,
    drop: async () => {
      const c = await admin();
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}
