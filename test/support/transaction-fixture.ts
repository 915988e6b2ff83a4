import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { DataManager } from '../../src/data-manager.js';
import type { RecoveryReport, TransactionManagerOptions } from '../../src/transactions/transaction-types.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from './mariadb-server.js';
import { createTestDatabase, type TestDatabase } from './postgres-server.js';
import { ThrowawayPostgres } from './throwaway-postgres.js';

/** Redis on the machine's server; each fixture keeps to its own key prefix. Override with DATAKEEP_TEST_REDIS_URL. */
export const REDIS_URL = process.env.DATAKEEP_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * Everything a distributed-transaction test needs, isolated: a throwaway PostgreSQL cluster with prepared
 * transactions enabled (the machine's server runs with max_prepared_transactions = 0) holding two databases, a MariaDB
 * database, a Redis key prefix, a PostgreSQL state store database on the machine's server, and a node id of its own
 * (XA RECOVER is server-wide, so recovery must never touch another test's branches).
 */
export class TransactionFixture {
  readonly nodeId = `t${randomBytes(4).toString('hex')}`;
  readonly prefix = `dk-tx-${randomBytes(4).toString('hex')}:`;
  readonly #managers = new Set<DataManager>();

  private constructor(
    readonly cluster: ThrowawayPostgres,
    readonly maria: MariadbTestDatabase,
    readonly state: TestDatabase,
    readonly redis: Redis,
  ) {}

  static async start(options: { clusterConfig?: readonly string[] } = {}): Promise<TransactionFixture> {
    const cluster = await ThrowawayPostgres.start({ name: 'tx', config: ['max_prepared_transactions = 64', 'max_connections = 120', ...(options.clusterConfig ?? [])] });
    try {
      await cluster.query('CREATE DATABASE a');
      await cluster.query('CREATE DATABASE b');
      const [maria, state] = await Promise.all([createMariadbTestDatabase('dk_tx'), createTestDatabase('dk_txstate')]);
      const redis = new Redis(REDIS_URL, { lazyConnect: true });
      await redis.connect();
      return new TransactionFixture(cluster, maria, state, redis);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }

  /** Participants: pg1 and pg2 (two databases of the throwaway cluster), maria, cache (Redis). */
  databases(poolSize = 10): DatabaseConfig[] {
    return [
      { ...this.cluster.config, id: 'pg1', database: 'a', poolSize },
      { ...this.cluster.config, id: 'pg2', database: 'b', poolSize },
      { ...this.maria.config, id: 'maria', poolSize },
      { url: REDIS_URL, id: 'cache' } as DatabaseConfig,
    ];
  }

  /** The serialisable settings a child process needs to build the same DataManager. */
  settings(options: TransactionManagerOptions = {}) {
    return { databases: this.databases(), stateUrl: this.state.url, transactions: { nodeId: this.nodeId, ...options } };
  }

  async manager(options: TransactionManagerOptions = {}, poolSize = 10): Promise<DataManager> {
    const dm = new DataManager({ config: { databases: this.databases(poolSize), state: { url: this.state.url } }, logger: silentLogger });
    await dm.initialize();
    dm.transactions.configure({ nodeId: this.nodeId, recoveryInterval: 0, ...options });
    this.#managers.add(dm);
    return dm;
  }

  /** Table `t (id, v)` on each SQL participant (pg1, pg2, maria): the rows the crash and recovery tests check. */
  async createTables(dm: DataManager): Promise<void> {
    await dm.queryDatabase('pg1', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await dm.queryDatabase('pg2', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await dm.queryDatabase('maria', 'CREATE TABLE t (id int PRIMARY KEY, v varchar(20)) ENGINE=InnoDB');
  }

  /** Prepared transactions this fixture's node left on the cluster (both databases). */
  async pgPrepared(): Promise<string[]> {
    const rows = await this.cluster.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1 ORDER BY gid', [`dk:${this.nodeId}:%`]);
    return rows.map((r) => r.gid);
  }

  /** XA RECOVER entries of this fixture's node (the server-wide list, filtered). */
  async xaPrepared(): Promise<string[]> {
    const conn = await this.maria.admin();
    try {
      const rows = (await conn.query('XA RECOVER')) as { data: Buffer | string }[];
      return rows.map((r) => (Buffer.isBuffer(r.data) ? r.data.toString('latin1') : String(r.data))).filter((d) => d.startsWith(`${this.nodeId}:`)).sort();
    } finally {
      await conn.end();
    }
  }

  /** Runs recovery passes until nothing is pending or deferred (bounded), and returns every pass's report. */
  async recoverUntilSettled(dm: DataManager, maxPasses = 100): Promise<RecoveryReport[]> {
    const reports: RecoveryReport[] = [];
    for (let i = 0; i < maxPasses; i += 1) {
      const report = await dm.transactions.recover();
      reports.push(report);
      if (report.pending.length === 0 && report.deferred.length === 0) return reports;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`recovery did not settle in ${maxPasses} passes; last report ${JSON.stringify(reports.at(-1))}`);
  }

  async mariaQuery<T>(sql: string, params: unknown[] = []): Promise<T> {
    const conn = await this.maria.admin();
    try {
      await conn.query(`USE \`${this.maria.name}\``);
      return (await conn.query(sql, params)) as T;
    } finally {
      await conn.end();
    }
  }

  async close(): Promise<void> {
    for (const dm of this.#managers) await dm.close().catch(() => undefined);
    // Whatever a failed test left prepared would block DROP DATABASE and hold locks.
    const pg = await this.pgPrepared().catch(() => [] as string[]);
    for (const gid of pg) {
      const db = (await this.cluster.query<{ database: string }>('SELECT database FROM pg_prepared_xacts WHERE gid = $1', [gid]))[0]?.database;
      if (db) await this.cluster.query(`ROLLBACK PREPARED '${gid}'`, [], db).catch(() => undefined);
    }
    const conn = await this.maria.admin().catch(() => undefined);
    if (conn) {
      const rows = (await conn.query('XA RECOVER').catch(() => [])) as { formatID: number; gtrid_length: number; bqual_length: number; data: Buffer }[];
      for (const r of rows) {
        const data = Buffer.isBuffer(r.data) ? r.data : Buffer.from(String(r.data), 'latin1');
        if (!data.toString('latin1').startsWith(`${this.nodeId}:`)) continue;
        const g = data.subarray(0, Number(r.gtrid_length)).toString('hex');
        const b = data.subarray(Number(r.gtrid_length), Number(r.gtrid_length) + Number(r.bqual_length)).toString('hex');
        await conn.query(`XA ROLLBACK X'${g}',X'${b}',${r.formatID}`).catch(() => undefined);
      }
      await conn.end();
    }
    const keys = await this.redis.keys(`${this.prefix}*`).catch(() => [] as string[]);
    const markers = await this.redis.keys(`datakeep:tx:${this.nodeId}:*`).catch(() => [] as string[]);
    if (keys.length + markers.length > 0) await this.redis.del(...keys, ...markers).catch(() => undefined);
    this.redis.disconnect();
    await Promise.allSettled([this.maria.drop(), this.state.drop()]);
    await this.cluster.destroy();
  }
}
