import { ConnectionError, FailoverError, QueryError, TimeoutError, type DatakeepError } from '../../../errors/index.js';
import type { ErrorPhase } from '../../sql/sql-adapter-base.js';

/**
 * pg refuses a statement on a client whose connection already failed (or was ended) without sending anything; a
 * COMMIT refused this way certainly did not commit.
 */
const NEVER_SENT = /is not queryable|Cannot use a pool after calling end/i;

/**
 * The errors of a routed adapter (one that is part of a replicated cluster): failures caused by the primary changing
 * or going away become FailoverError, saying whether the statement may have committed; every other error is
 * `mapped` (what mapPostgresError made of it) unchanged.
 *
 * - could not connect, or never sent: false;
 * - refused because the node is read-only (25006: a replica, or a fenced or demoted primary): false;
 * - connection lost or backend terminated inside an explicit transaction before COMMIT was sent: false, because
 *   PostgreSQL rolls an unfinished transaction back when its session ends;
 * - an autocommit statement or a COMMIT that was sent and got no reply: true. That includes a backend terminated
 *   while waiting for synchronous replication, whose commit is already durable locally (PostgreSQL warns "canceling
 *   wait for synchronous replication ... already committed locally"), and it cannot be told from one that had not
 *   reached its commit yet.
 */
export function mapPostgresFailover(adapterId: string, raw: unknown, phase: ErrorPhase, mapped: DatakeepError, primary: string): DatakeepError {
  if (mapped instanceof QueryError && mapped.sqlState === '25006') {
    return new FailoverError(adapterId, `${primary} refuses writes (read-only: a replica, or a fenced or demoted primary); nothing was written. Retry once the new primary is routed (${mapped.message})`, { mayHaveCommitted: false, primary, cause: raw });
  }
  if (phase === 'connect') {
    const unreachable = (mapped instanceof ConnectionError && mapped.retriable) || (mapped instanceof TimeoutError && mapped.kind === 'connect');
    if (!unreachable || isTooManyConnections(raw)) return mapped;
    return new FailoverError(adapterId, `cannot connect to ${primary}; nothing was sent (${messageOf(mapped)})`, { mayHaveCommitted: false, primary, cause: raw });
  }
  if (!(mapped instanceof ConnectionError)) return mapped;
  const text = messageOf(raw);
  if (NEVER_SENT.test(text)) {
    return new FailoverError(adapterId, `the connection to ${primary} was already lost, so the ${phase === 'commit' ? 'COMMIT' : 'statement'} was never sent (${text})`, { mayHaveCommitted: false, primary, cause: raw });
  }
  if (phase === 'transaction') {
    return new FailoverError(adapterId, `connection to ${primary} lost inside a transaction before COMMIT; the server rolled it back (${text})`, { mayHaveCommitted: false, primary, cause: raw });
  }
  const what = phase === 'commit' ? 'COMMIT' : 'the statement (autocommit)';
  return new FailoverError(adapterId, `connection to ${primary} lost after ${what} was sent; it may have committed: check before retrying a write that is not idempotent (${text})`, { mayHaveCommitted: true, primary, cause: raw });
}

function isTooManyConnections(raw: unknown): boolean {
  return (raw as { code?: unknown } | undefined)?.code === '53300';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
