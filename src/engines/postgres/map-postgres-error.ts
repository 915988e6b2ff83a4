import { AuthenticationError, ConnectionError, DatakeepError, QueryError, TimeoutError } from '../../errors/index.js';
import type { ErrorPhase } from '../sql/sql-adapter-base.js';

interface PgLikeError {
  code?: string;
  message?: string;
  detail?: string;
  constraint?: string;
  table?: string;
  column?: string;
  severity?: string;
}

const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * Maps an error from `pg` (or PGlite, which raises the same server fields) to a datakeep error. A connection failure
 * is retriable only in the `connect` phase: once a statement was sent it may have run. A connection lost during COMMIT
 * leaves the outcome unknown, and says so.
 */
export function mapPostgresError(adapterId: string, raw: unknown, phase: ErrorPhase, timeouts: { connect: number; statement?: number }): DatakeepError {
  if (raw instanceof DatakeepError) return raw;
  const err = (raw ?? {}) as PgLikeError;
  const message = err.message ?? String(raw);
  const code = err.code;

  if (code && /^[0-9A-Z]{5}$/.test(code) && err.severity !== undefined) {
    if (code === '57014') {
      return new TimeoutError('statement', `${adapterId}: statement cancelled (statement timeout${timeouts.statement ? ` ${timeouts.statement} ms` : ''} or cancel request)`, { timeoutMs: timeouts.statement, cause: raw });
    }
    if (code === '28P01') {
      return new AuthenticationError(adapterId, `authentication failed: ${message}. Check username and password`, { cause: raw });
    }
    if (code === '28000') {
      // 28000 covers both bad credentials and pg_hba.conf refusals; the server's text is the only way to tell them
      // apart (it is localised with lc_messages, so an unmatched text falls back to the generic hint).
      const hint = /no encryption/i.test(message)
        ? 'The server accepts only TLS connections from here: set ssl: true (with ssl.ca)'
        : /pg_hba\.conf/i.test(message)
          ? 'Add a pg_hba.conf entry for this host, user and database on the server'
          : 'Check username and password';
      return new AuthenticationError(adapterId, `connection refused by the server: ${message}. ${hint}`, { cause: raw });
    }
    if (code === '3D000') {
      return new ConnectionError(adapterId, `${message}. Create the database or fix the database field`, { cause: raw });
    }
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
      return connectionLost(adapterId, message, phase, raw, code === '57P03' || code === '53300' || phase === 'connect');
    }
    return new QueryError(adapterId, message, {
      sqlState: code, detail: err.detail, constraint: err.constraint, table: err.table, column: err.column, cause: raw,
    });
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new ConnectionError(adapterId, `TLS host name check failed (${code}: ${message}). Connect with a host name or IP address the server certificate lists, or set ssl.servername to one of them`, { cause: raw });
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new ConnectionError(adapterId, `TLS certificate not valid now (${code}: ${message}). Renew the server certificate or check this machine's clock`, { cause: raw });
  }
  if (/Query read timeout/i.test(message)) {
    return new TimeoutError('statement', `${adapterId}: no reply from the server within the query timeout (${timeouts.statement ?? '?'} ms + margin); the connection was discarded`, { timeoutMs: timeouts.statement, cause: raw });
  }
  if (code && TLS_CODES.has(code)) {
    return new ConnectionError(adapterId, `TLS certificate verification failed (${code}: ${message}). Give ssl.ca with the CA that signed the server certificate, or (unsafe) ssl.rejectUnauthorized: false`, { cause: raw });
  }
  if (/does not support SSL/i.test(message)) {
    return new ConnectionError(adapterId, 'the server does not accept TLS connections. Enable ssl on the server or set ssl: false', { cause: raw });
  }
  if (/timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(message) || (phase === 'connect' && /^timeout expired$/i.test(message))) {
    return new TimeoutError('connect', `${adapterId}: could not connect within ${timeouts.connect} ms`, { timeoutMs: timeouts.connect, cause: raw });
  }
  if ((code && NETWORK_CODES.has(code)) || /Connection terminated|connection.*(closed|ended)|Client has encountered a connection error/i.test(message)) {
    return connectionLost(adapterId, message, phase, raw, phase === 'connect');
  }
  return new QueryError(adapterId, message, { cause: raw });
}

function connectionLost(adapterId: string, message: string, phase: ErrorPhase, raw: unknown, retriable: boolean): ConnectionError {
  if (phase === 'commit') {
    return new ConnectionError(adapterId, `connection lost during COMMIT; the transaction may or may not have committed (${message})`, { cause: raw, outcomeUnknown: true });
  }
  if (phase === 'connect') return new ConnectionError(adapterId, `cannot connect: ${message}`, { cause: raw, retriable });
  return new ConnectionError(adapterId, `connection lost while running a statement; it may have run (${message})`, { cause: raw, retriable: false });
}
