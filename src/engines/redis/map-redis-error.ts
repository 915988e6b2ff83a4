import { AuthenticationError, ConnectionError, DatakeepError, QueryError, TimeoutError } from '../../errors/index.js';

export type RedisErrorPhase = 'connect' | 'command';

const RETRIABLE_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ENOTFOUND']);
const AUTH_PREFIXES = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM']);
/** A Redis error reply starts with an upper-case code word (`WRONGTYPE Operation against ...`). */
const ERROR_PREFIX = /^([A-Z][A-Z0-9_-]*)(?:\s|$)/;

/** The code word of a Redis error reply (`WRONGTYPE`, `ERR`, `READONLY`, ...), or undefined for other errors. */
export function redisErrorPrefix(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  return ERROR_PREFIX.exec(error.message)?.[1];
}

/**
 * Maps what ioredis throws to datakeep's typed errors, keeping the original as `cause`:
 * - error replies become QueryError with the reply's code word as `sqlState` (`WRONGTYPE`, `ERR`, `NOSCRIPT`, ...),
 *   except authentication replies while connecting, which are a non-retriable ConnectionError;
 * - ioredis' own connection errors (closed connection, offline queue refused or flushed after its reconnect attempts)
 *   and socket errors become ConnectionError; during `connect` a refused or reset socket is retriable;
 * - "Command timed out" (the `statementTimeout` setting) becomes a statement TimeoutError.
 */
export function mapRedisError(adapterId: string, error: unknown, phase: RedisErrorPhase, timeouts: { connect: number; command: number | undefined }): DatakeepError {
  if (error instanceof DatakeepError) return error;
  if (!(error instanceof Error)) return new QueryError(adapterId, `unexpected error value: ${String(error)}`, { cause: error });
  const prefix = redisErrorPrefix(error);
  if (prefix !== undefined) {
    if (phase === 'connect' && AUTH_PREFIXES.has(prefix)) {
      return new AuthenticationError(adapterId, `the server refused the credentials (${error.message}); check username and password (Redis 6+ ACL users need both)`, { cause: error });
    }
    if (phase === 'connect' && prefix === 'LOADING') {
      return new ConnectionError(adapterId, `the server is still loading its dataset (${error.message})`, { cause: error, retriable: true });
    }
    return new QueryError(adapterId, error.message, { sqlState: prefix, cause: error });
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (error.message === 'Command timed out') {
    return new TimeoutError('statement', `${adapterId}: no reply within statementTimeout (${timeouts.command ?? '?'} ms); the command may still have run`, { timeoutMs: timeouts.command, cause: error });
  }
  if (phase === 'connect' && (code === 'ETIMEDOUT' || error.message.includes('ETIMEDOUT'))) {
    return new TimeoutError('connect', `${adapterId}: could not connect within ${timeouts.connect} ms`, { timeoutMs: timeouts.connect, cause: error });
  }
  if (error.name === 'MaxRetriesPerRequestError') {
    return new ConnectionError(adapterId, 'the connection to Redis is down and did not come back within the reconnect attempts allowed per command; the command was not sent or its reply was lost', { cause: error, retriable: false });
  }
  if (error.message.includes("enableOfflineQueue options is false") || error.message.startsWith('Connection is closed')) {
    return new ConnectionError(adapterId, `the connection to Redis is closed (${error.message})`, { cause: error, retriable: phase === 'connect' });
  }
  if (error.message.startsWith('All sentinels are unreachable') || error.message.includes('Failed to connect to sentinel')) {
    return new ConnectionError(adapterId, `no Sentinel could name the master: ${error.message}`, { cause: error, retriable: phase === 'connect' });
  }
  if (code !== undefined && RETRIABLE_NETWORK_CODES.has(code)) {
    return new ConnectionError(adapterId, `cannot reach Redis (${code}: ${error.message})`, { cause: error, retriable: phase === 'connect' });
  }
  if (code !== undefined && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL'))) {
    return new ConnectionError(adapterId, `TLS handshake failed (${code}: ${error.message}); check ssl.ca, ssl.servername and that the server speaks TLS`, { cause: error, retriable: false });
  }
  if (phase === 'connect') return new ConnectionError(adapterId, `cannot connect to Redis: ${error.message}`, { cause: error, retriable: false });
  return new QueryError(adapterId, error.message, { cause: error });
}
