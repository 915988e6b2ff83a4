import {
  AuthenticationError,
  ConnectionError,
  DatakeepError,
  LifecycleError,
  QueryError,
  TimeoutError,
  UsageError,
} from '../../errors/index.js';
import type { ErrorPhase } from '../sql/sql-adapter-base.js';

/** The fields of the `mariadb` driver's SqlError (and of Node's network errors) that the mapping reads. */
interface MariadbLikeError {
  errno?: number;
  sqlState?: string | null;
  code?: string | null;
  fatal?: boolean;
  sqlMessage?: string;
  message?: string;
  cause?: unknown;
}

export interface MariadbErrorContext {
  /** Connect (and pool acquire) timeout, ms. */
  readonly connectTimeout: number;
  readonly statementTimeout: number | undefined;
  readonly database: string;
  readonly poolSize: number;
  /** What a `commit`-phase failure interrupted, for the message ("COMMIT", "XA PREPARE", ...). Default "COMMIT". */
  readonly commitLabel?: string;
}

// Server error numbers (https://mariadb.com/kb/en/mariadb-error-codes/).
const ER_DBACCESS_DENIED = 1044;
const ER_ACCESS_DENIED = 1045;
const ER_BAD_DB = 1049;
const ER_CON_COUNT = 1040;
const ER_HOST_IS_BLOCKED = 1129;
const ER_TOO_MANY_USER_CONNECTIONS = 1203;
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;
const ER_SERVER_SHUTDOWN = 1053;
const ER_CONNECTION_KILLED = 1927;
const ER_STATEMENT_TIMEOUT = 1969; // MariaDB max_statement_time
const ER_QUERY_TIMEOUT = 3024; // MySQL max_execution_time
const ER_CLIENT_INTERACTION_TIMEOUT = 4031;
const AUTH_ERRNOS = new Set([ER_ACCESS_DENIED, 1698 /* no password */, 1251 /* auth plugin */, 1524 /* plugin not loaded */, 1862 /* password expired */]);

// Client-side error numbers of the `mariadb` driver (lib/misc/errors.js).
const DRIVER = {
  CONNECTION_ALREADY_CLOSED: 45001,
  CMD_NOT_EXECUTED_DESTROYED: 45004,
  SOCKET_UNEXPECTED_CLOSE: 45009,
  CONNECTION_TIMEOUT: 45012,
  CMD_CONNECTION_CLOSED: 45013,
  MISSING_PARAMETER: 45016,
  PARAMETER_UNDEFINED: 45017,
  PLACEHOLDER_UNDEFINED: 45018,
  SOCKET: 45019,
  SERVER_SSL_DISABLED: 45023,
  SOCKET_TIMEOUT: 45026,
  POOL_ALREADY_CLOSED: 45027,
  GET_CONNECTION_TIMEOUT: 45028,
  INITIAL_SQL_ERROR: 45030,
  ADD_CONNECTION_CLOSED_POOL: 45035,
  CLOSING_POOL: 45037,
  PING_TIMEOUT: 45042,
  SELF_SIGNED: 45056,
  SELF_SIGNED_NO_PWD: 45057,
  TLS_IDENTITY_ERROR: 45059,
  SELF_SIGNED_BAD_PLUGIN: 45062,
  SELF_SIGNED_SHA256: 45063,
} as const;
const CONNECTION_LOST_DRIVER = new Set<number>([
  DRIVER.CONNECTION_ALREADY_CLOSED, DRIVER.CMD_NOT_EXECUTED_DESTROYED, DRIVER.SOCKET_UNEXPECTED_CLOSE,
  DRIVER.CMD_CONNECTION_CLOSED, DRIVER.SOCKET, DRIVER.SOCKET_TIMEOUT, DRIVER.PING_TIMEOUT,
]);
const TLS_DRIVER = new Set<number>([
  DRIVER.SELF_SIGNED, DRIVER.SELF_SIGNED_NO_PWD, DRIVER.TLS_IDENTITY_ERROR, DRIVER.SELF_SIGNED_BAD_PLUGIN, DRIVER.SELF_SIGNED_SHA256,
]);
const POOL_CLOSED_DRIVER = new Set<number>([DRIVER.POOL_ALREADY_CLOSED, DRIVER.ADD_CONNECTION_CLOSED_POOL, DRIVER.CLOSING_POOL]);

const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * Maps an error of the `mariadb` driver to a datakeep error. The driver's `message` is never used: it embeds the SQL
 * text and its parameter values; the server's own `sqlMessage` is. A connection failure is retriable only in the
 * `connect` phase (nothing was sent yet); a connection lost during a commit leaves the outcome unknown and says so.
 */
export function mapMariadbError(adapterId: string, raw: unknown, phase: ErrorPhase, ctx: MariadbErrorContext): DatakeepError {
  if (raw instanceof DatakeepError) return raw;
  // Node reports a refused connection to a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (raw instanceof AggregateError && raw.errors.length > 0) raw = raw.errors[0];
  const err = (raw ?? {}) as MariadbLikeError;
  const errno = typeof err.errno === 'number' ? err.errno : undefined;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const text = err.sqlMessage ?? err.message ?? String(raw);

  if (errno === DRIVER.GET_CONNECTION_TIMEOUT) {
    if (err.cause !== undefined && err.cause !== null) {
      // The pool kept trying to open a connection for the whole acquire timeout and reports the last failure as the
      // cause. It already retried, so the mapped error is not retriable again (retries would multiply the wait).
      const inner = mapMariadbError(adapterId, err.cause, 'connect', ctx);
      if (inner instanceof ConnectionError) {
        return new ConnectionError(adapterId, `${stripAdapter(adapterId, inner.message)} (the pool kept trying for ${ctx.connectTimeout} ms)`, { cause: raw, retriable: false });
      }
      return inner;
    }
    return new TimeoutError(
      'connect',
      `${adapterId}: no pooled connection became free within ${ctx.connectTimeout} ms (all ${ctx.poolSize} in use). ` +
        'Raise poolSize or timeout, or look for long-running transactions and unreleased XA branches',
      { timeoutMs: ctx.connectTimeout, cause: raw },
    );
  }
  if (errno !== undefined && POOL_CLOSED_DRIVER.has(errno)) {
    return new LifecycleError(`${adapterId}: the connection pool is closed`);
  }
  if (errno === DRIVER.CONNECTION_TIMEOUT) {
    return new TimeoutError('connect', `${adapterId}: could not connect within ${ctx.connectTimeout} ms`, { timeoutMs: ctx.connectTimeout, cause: raw });
  }
  if (errno === DRIVER.SERVER_SSL_DISABLED) {
    return new ConnectionError(adapterId, 'the server does not accept TLS connections. Enable TLS on the server (ssl_cert, ssl_key) or set ssl: false', { cause: raw });
  }
  if (errno === DRIVER.MISSING_PARAMETER || errno === DRIVER.PARAMETER_UNDEFINED || errno === DRIVER.PLACEHOLDER_UNDEFINED) {
    return new UsageError('params', `${text}. Give one value per ? placeholder, and null (not undefined) for SQL NULL`);
  }
  if (errno === DRIVER.INITIAL_SQL_ERROR) {
    const inner = err.cause as MariadbLikeError | undefined;
    return new ConnectionError(adapterId, `the session setup statement failed: ${inner?.sqlMessage ?? text}`, { cause: raw });
  }
  if (errno !== undefined && CONNECTION_LOST_DRIVER.has(errno)) {
    return connectionLost(adapterId, text, phase, raw, phase === 'connect', ctx);
  }

  if (errno !== undefined && errno > 0 && errno < 45000) {
    const sqlState = err.sqlState ?? undefined;
    if (AUTH_ERRNOS.has(errno)) {
      return new AuthenticationError(adapterId, `authentication failed: ${text}. Check username and password (and the account's host part)`, { cause: raw });
    }
    if (errno === ER_DBACCESS_DENIED) {
      return new AuthenticationError(adapterId, `${text}. Grant the user access to database "${ctx.database}" or fix the database field`, { cause: raw });
    }
    if (errno === ER_BAD_DB && phase === 'connect') {
      return new ConnectionError(adapterId, `${text}. Create it (CREATE DATABASE \`${ctx.database}\`) or fix the database field`, { cause: raw });
    }
    if (errno === ER_HOST_IS_BLOCKED) {
      return new ConnectionError(adapterId, `${text}. Unblock it with FLUSH HOSTS (mariadb-admin flush-hosts) and raise max_connect_errors`, { cause: raw });
    }
    if (errno === ER_CON_COUNT || errno === ER_TOO_MANY_USER_CONNECTIONS) {
      return connectionLost(adapterId, `${text} (raise max_connections / max_user_connections or lower poolSize)`, phase, raw, phase === 'connect', ctx);
    }
    if (errno === ER_LOCK_WAIT_TIMEOUT) {
      return new TimeoutError('lock', `${adapterId}: lock wait timeout exceeded (innodb_lock_wait_timeout); the statement was rolled back, the transaction was not`, { cause: raw });
    }
    if (errno === ER_STATEMENT_TIMEOUT || errno === ER_QUERY_TIMEOUT) {
      return new TimeoutError('statement', `${adapterId}: statement interrupted by the statement timeout${ctx.statementTimeout ? ` (${ctx.statementTimeout} ms)` : ''}`, { timeoutMs: ctx.statementTimeout, cause: raw });
    }
    if (errno === ER_SERVER_SHUTDOWN || errno === ER_CONNECTION_KILLED || errno === ER_CLIENT_INTERACTION_TIMEOUT || sqlState?.startsWith('08') || err.fatal === true) {
      return connectionLost(adapterId, text, phase, raw, phase === 'connect', ctx);
    }
    // A deadlock rolls back the whole transaction; its SQLSTATE is 40001, which the base treats as retryable.
    return new QueryError(adapterId, `${text} (errno ${errno}${code ? ` ${code}` : ''})`, {
      sqlState: errno === ER_LOCK_DEADLOCK ? '40001' : sqlState,
      cause: raw,
    });
  }

  if ((code && TLS_CODES.has(code)) || (errno !== undefined && TLS_DRIVER.has(errno))) {
    return new ConnectionError(adapterId, `TLS certificate verification failed (${code}: ${text}). Give ssl.ca with the CA that signed the server certificate, or (unsafe) ssl.rejectUnauthorized: false`, { cause: raw });
  }
  if ((code && NETWORK_CODES.has(code)) || err.fatal === true) {
    return connectionLost(adapterId, text, phase, raw, phase === 'connect', ctx);
  }
  return new QueryError(adapterId, text, { cause: raw });
}

function connectionLost(adapterId: string, message: string, phase: ErrorPhase, raw: unknown, retriable: boolean, ctx: MariadbErrorContext): ConnectionError {
  if (phase === 'commit') {
    const what = ctx.commitLabel ?? 'COMMIT';
    return new ConnectionError(adapterId, `connection lost during ${what}; it may or may not have taken effect (${message})`, { cause: raw, outcomeUnknown: true });
  }
  if (phase === 'connect') return new ConnectionError(adapterId, `cannot connect: ${message}`, { cause: raw, retriable });
  return new ConnectionError(adapterId, `connection lost while running a statement; it may have run (${message})`, { cause: raw, retriable: false });
}

function stripAdapter(adapterId: string, message: string): string {
  return message.startsWith(`${adapterId}: `) ? message.slice(adapterId.length + 2) : message;
}
