import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { startServer } from '../../src/engines/postgres/replication/local-server.js';
import { postgresReplicationDriver } from '../../src/engines/postgres/replication/postgres-replication-driver.js';
import { replicationSlotName } from '../../src/engines/postgres/replication/slot-name.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';
import { freePort } from './free-port.js';
import { descendants, isAlive, signal, ThrowawayPostgres } from './throwaway-postgres.js';

/** Server settings every node of a replicated test cluster needs (pg_rewind needs wal_log_hints). */
export const REPLICATION_SETTINGS: readonly string[] = [
  'wal_level = replica',
  'max_wal_senders = 10',
  'max_replication_slots = 10',
  'wal_log_hints = on',
  'hot_standby = on',
  // Short so that a replica repointed or rejoined retries its WAL receiver quickly.
  'wal_retrieve_retry_interval = 200ms',
  'wal_receiver_status_interval = 1s',
];

export interface ReplicatedPostgresOptions {
  name?: string;
  /** Extra lines for the primary's configuration (copied to the replicas by pg_basebackup). */
  config?: readonly string[];
  /**
   * Require this password (scram-sha-256) for the postgres user over TCP, replication included; nodes carry it in
   * their config. Unix-socket connections stay trusted. ThrowawayPostgres.query (TCP, no password) then fails: use
   * `query(node, ...)`.
   */
  password?: string;
}

/**
 * A PostgreSQL 15 primary set up for streaming replication (the ThrowawayPostgres `primary`), plus replicas made by
 * the PostgreSQL replication driver itself, their data directories under a temp directory the postgres user owns.
 * `destroy()` stops every server by PID (replicas first) and removes everything.
 *
 * @example
 * const rp = await ReplicatedPostgres.start({ name: 'switchover' });
 * try { const [r1, r2] = await rp.createReplicas(2); ... rp.driver.promote(r1, ...) } finally { await rp.destroy(); }
 */
export class ReplicatedPostgres {
  readonly primary: ThrowawayPostgres;
  readonly driver = postgresReplicationDriver;
  /** Every node made so far: the primary first (named p0), then replicas r1, r2, ... */
  readonly nodes: ReplicationNode[] = [];

  readonly #password: string | undefined;

  private constructor(primary: ThrowawayPostgres, password: string | undefined) {
    this.primary = primary;
    this.#password = password;
  }

  static async start(options: ReplicatedPostgresOptions = {}): Promise<ReplicatedPostgres> {
    const primary = await ThrowawayPostgres.start({ name: options.name ?? 'repl', config: [...REPLICATION_SETTINGS, ...(options.config ?? [])] });
    if (options.password !== undefined) {
      // ThrowawayPostgres waits for a password-less TCP login when it starts, so the rule comes after the first start.
      await primary.query(`ALTER ROLE postgres PASSWORD '${options.password.replace(/'/g, "''")}'`);
      const hbaPath = join(primary.dataDir, 'pg_hba.conf');
      writeFileSync(hbaPath, ['local all all trust', 'local replication all trust', 'host all all 127.0.0.1/32 scram-sha-256', 'host replication all 127.0.0.1/32 scram-sha-256', ''].join('\n'));
      await primary.reload();
    }
    const rp = new ReplicatedPostgres(primary, options.password);
    rp.nodes.push(rp.node('p0', primary.port, primary.dataDir));
    return rp;
  }

  get primaryNode(): ReplicationNode {
    return this.nodes[0]!;
  }

  /** A ReplicationNode on 127.0.0.1:`port` as the manager would build it: the primary's config with this host/port. */
  node(name: string, port: number, dataDir: string | undefined, extra: { sync?: boolean; priority?: number } = {}): ReplicationNode {
    const config = resolveDatabaseConfig({ type: 'postgresql', host: '127.0.0.1', port, database: 'postgres', username: 'postgres', password: this.#password, id: name }, `replication.${name}`);
    return { name, host: '127.0.0.1', port, region: undefined, dataDir, sync: extra.sync ?? true, priority: extra.priority ?? this.nodes.length, config };
  }

  /** A fresh, empty (not yet created) data directory path for a replica, inside a postgres-owned directory. */
  replicaDataDir(name: string): string {
    const parent = this.primary.ownedDir('nodes');
    const dir = join(parent, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
    return join(dir, 'data');
  }

  /** Creates `count` replicas (r1, r2, ...) of the current primary with the driver, one after the other. */
  async createReplicas(count: number, options: { timeoutMs?: number; from?: ReplicationNode; onProgress?: (copied: number, total: number | undefined) => void } = {}): Promise<ReplicationNode[]> {
    const made: ReplicationNode[] = [];
    for (let i = 0; i < count; i += 1) {
      const name = `r${this.nodes.length}`;
      const node = this.node(name, await freePort('127.0.0.1'), this.replicaDataDir(name));
      this.nodes.push(node);
      await this.driver.createReplica(options.from ?? this.primaryNode, node, { slot: replicationSlotName(name), timeoutMs: options.timeoutMs ?? 60_000, onProgress: options.onProgress });
      made.push(node);
    }
    return made;
  }

  /** The postmaster PID of a node's data directory, or undefined when none runs. */
  pid(node: ReplicationNode): number | undefined {
    return node.dataDir === undefined ? undefined : postmasterPid(node.dataDir);
  }

  /** Starts a stopped node with pg_ctl on its port, as the driver does (whatever its configuration makes it). */
  async start(node: ReplicationNode, timeoutMs = 30_000): Promise<void> {
    if (node.dataDir === undefined) throw new Error(`start: ${node.name} has no dataDir`);
    if (this.pid(node) === undefined) await startServer(node, node.dataDir, 'test start', timeoutMs);
  }

  /** A pg client on the node (the caller ends it); errors from a server killed later are swallowed. */
  async connect(node: ReplicationNode): Promise<pg.Client> {
    const client = new pg.Client({ host: node.host, port: node.port, user: 'postgres', password: this.#password, database: 'postgres', connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** One statement on a short-lived connection to the node. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(node: ReplicationNode, sql: string, params: unknown[] = []): Promise<R[]> {
    const client = await this.connect(node);
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The node's current WAL write position (a primary's pg_current_wal_lsn()). */
  async currentLsn(node: ReplicationNode): Promise<string> {
    const [row] = await this.query<{ lsn: string }>(node, 'SELECT pg_current_wal_lsn()::text AS lsn');
    return row!.lsn;
  }

  /** SIGKILL to the node's postmaster and every process under it; waits until they are gone. */
  async kill(node: ReplicationNode): Promise<void> {
    const pid = this.pid(node);
    if (pid === undefined) return;
    const all = [pid, ...descendants(pid)];
    for (const p of all) signal(p, 'SIGCONT');
    for (const p of all) signal(p, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (all.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** SIGSTOP (pause) or SIGCONT (resume) to the node's postmaster and its children. */
  pause(node: ReplicationNode): void {
    const pid = this.pid(node);
    if (pid === undefined) throw new Error(`pause: ${node.name} is not running`);
    signal(pid, 'SIGSTOP');
    for (const child of descendants(pid)) signal(child, 'SIGSTOP');
  }
  resume(node: ReplicationNode): void {
    const pid = this.pid(node);
    if (pid === undefined) return;
    for (const child of descendants(pid)) signal(child, 'SIGCONT');
    signal(pid, 'SIGCONT');
  }

  /** Stops every server by PID (replicas, then the primary's ThrowawayPostgres) and removes the directories. */
  async destroy(): Promise<void> {
    for (const node of this.nodes.slice(1).reverse()) await this.kill(node);
    await this.primary.destroy();
  }
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = (line ?? '').split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    // A stale lock file may name a PID since reused: the postmaster's command line names its data directory.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}
