import pg from 'pg';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import type { Logger } from '../../util/logger.js';
import { postgresTlsOptions } from './postgres-tls.js';

/** Where a pool connects: the configured host and port, or the node a replicated adapter was routed to. */
export interface PostgresEndpoint {
  readonly host: string;
  readonly port: number;
  /** The node's name in events and errors (`host:port` when it has none). */
  readonly name: string;
}

export function configuredEndpoint(config: ResolvedDatabaseConfig): PostgresEndpoint {
  return { host: config.host, port: config.port, name: `${config.host}:${config.port}` };
}

/** The adapter's pg.Pool for one endpoint: every other setting (credentials, TLS, sizes, timeouts) from `config`. */
export function createPostgresPool(config: ResolvedDatabaseConfig, endpoint: PostgresEndpoint, logger: Logger): pg.Pool {
  // Not a spread of `config`: its password is non-enumerable (so that it never prints) and a spread would drop it.
  const c = config;
  const pool = new pg.Pool({
    host: endpoint.host,
    port: endpoint.port,
    database: c.database,
    user: c.username,
    password: c.password,
    ssl: postgresTlsOptions(c),
    max: c.poolSize,
    // The connect timeout is set on each Client rather than on the pool: pg-pool's connectionTimeoutMillis also
    // starts and clears a timer for every checkout that has to queue, which measurably taxes busy pools (about 10 %
    // client CPU per query at 32 in flight on 16 connections). A caller waiting for a free connection therefore
    // waits as long as pg's own pool would; health() reports such waiting as `degraded`.
    Client: clientWithConnectTimeout(c.timeout),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: c.applicationName,
    statement_timeout: c.statementTimeout,
    // statement_timeout runs on the server, so a frozen server (or a cut network that the kernel still
    // acknowledges) would leave a query pending forever. A client-side limit a little longer than the server's
    // catches that case without racing the server's own cancellation.
    query_timeout: c.statementTimeout === undefined ? undefined : c.statementTimeout + 2000,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener Node would crash the process.
  pool.on('error', (error) => logger.log('warn', 'idle connection failed', { adapter: config.id, endpoint: endpoint.name, error: error.message }));
  // A checked-out client can also emit 'error' between statements (inside a transaction); the failing statement is
  // reported to its caller, so this listener only keeps the process alive.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.log('warn', 'connection failed', { adapter: config.id, endpoint: endpoint.name, error: error.message }));
  });
  return pool;
}

interface PendingCheckout {
  callback: (error: Error | undefined, client?: pg.PoolClient, release?: () => void) => void;
}

/**
 * Ends a pool that is being replaced: idle sessions are closed now, sessions in use are closed when released. pg-pool
 * leaves callers queued for a session of an ending pool waiting forever, so they are first handed to `next` (they had
 * not run anything yet). The queue is pg-pool's internal `_pendingQueue` (pg-pool 3.x); test/replication/
 * postgres-route.test.ts routes while callers are queued, so a pg-pool that renames it fails there.
 */
export function retirePool(old: pg.Pool, next: pg.Pool): Promise<void> {
  const queue = (old as unknown as { _pendingQueue?: PendingCheckout[] })._pendingQueue;
  if (Array.isArray(queue)) {
    for (const waiter of queue.splice(0)) {
      next.connect((error, client, release) => waiter.callback(error, client, release));
    }
  }
  return old.end();
}

/** A pg.Client class whose connections time out after `timeoutMs` (see the pool options for why). */
function clientWithConnectTimeout(timeoutMs: number): typeof pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      const options = typeof config === 'string' ? { connectionString: config } : config;
      // pg-pool hands its options over with the password made non-enumerable, so a spread alone would connect
      // without it (every server that asks for a password refused it): it is carried over by name.
      super({ ...options, password: options?.password, connectionTimeoutMillis: timeoutMs });
    }
  };
}
