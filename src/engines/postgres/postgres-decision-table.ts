import type { SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import { QueryError, UsageError } from '../../errors/index.js';
import type { Decision } from '../../transactions/transaction-types.js';

/**
 * The table a PostgreSQL database holds the decisions of the distributed transactions it decided in (commit-markable
 * participant): one row per global id, written once, removed once every branch finished. Unqualified, like the
 * migration history table, so it lands in the adapter's search_path.
 */
export const DECISION_TABLE = 'datakeep_tx_decisions';

const CREATE = `CREATE TABLE IF NOT EXISTS ${DECISION_TABLE} (
  global_id text PRIMARY KEY,
  node_id text NOT NULL,
  decision text NOT NULL CHECK (decision IN ('commit', 'abort')),
  decided_at timestamptz NOT NULL DEFAULT now()
)`;

// Ids go into the decision row's INSERT as literals, because that INSERT rides in one simple-protocol round trip with
// COMMIT; only datakeep's own ids (checked here) ever get there.
const NODE_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const GLOBAL_ID = /^[a-z0-9]{8,30}$/;

// Deciding is the one write here that recovery depends on: durable even where the server runs with
// synchronous_commit = off (SET LOCAL inside the statement's own transaction, as the coordinator log does).
const DURABLE = "(SELECT set_config('synchronous_commit', 'on', true) AS sc) AS durable";
const RELAXED = "(SELECT set_config('synchronous_commit', 'off', true) AS sc) AS relaxed";

/** The statements that write the `commit` row and commit the branch's transaction with it, in one round trip. */
export function commitWithDecisionRow(nodeId: string, globalId: string): string[] {
  if (!NODE_ID.test(nodeId) || !GLOBAL_ID.test(globalId)) throw new UsageError('globalId', `"${nodeId}:${globalId}" is not a datakeep transaction id`);
  return [
    // The commit is the decision: it must be on disk before anyone is told, whatever the server's default.
    'SET LOCAL synchronous_commit = on',
    `INSERT INTO ${DECISION_TABLE} (global_id, node_id, decision) VALUES ('${globalId}', '${nodeId}', 'commit')`,
    'COMMIT',
  ];
}

const ready = new WeakMap<SqlDatabaseAdapter, Promise<void>>();
/** After a failure (no privilege, the server down), the next transaction asks again this much later. */
const RETRY_AFTER_MS = 30_000;

/** Creates the table unless it exists (asking first, so a role without CREATE works once an admin made it); once per adapter. */
export function ensureDecisionTable(adapter: SqlDatabaseAdapter): Promise<void> {
  let promise = ready.get(adapter);
  if (!promise) {
    promise = (async () => {
      if (await exists(adapter)) return;
      try {
        await adapter.execute(CREATE);
      } catch (error) {
        // Two sessions creating it at once: one of them fails on the catalog's unique index, the table is there.
        if (!(await exists(adapter).catch(() => false))) throw error;
      }
    })();
    ready.set(adapter, promise);
    promise.catch(() => setTimeout(() => ready.delete(adapter), RETRY_AFTER_MS).unref());
  }
  return promise;
}

async function exists(adapter: SqlDatabaseAdapter): Promise<boolean> {
  const rows = await adapter.query<{ t: string | null }>(`SELECT to_regclass('${DECISION_TABLE}')::text AS t`);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

/** The committed decisions of these ids; none when the table does not exist (nothing was ever decided here). */
export async function readDecisions(adapter: SqlDatabaseAdapter, globalIds: readonly string[]): Promise<Map<string, Decision>> {
  if (globalIds.length === 0) return new Map();
  const rows = await missingTableIsEmpty(adapter.query<{ global_id: string; decision: Decision }>(`SELECT global_id, decision FROM ${DECISION_TABLE} WHERE global_id = ANY(?::text[])`, [[...globalIds]]));
  return new Map(rows.map((r) => [r.global_id, r.decision]));
}

/**
 * Inserts an `abort` row unless the id has one. A transaction still committing a `commit` row holds the key, so the
 * insert waits for it (ON CONFLICT waits for the other inserter's transaction); then the row that holds is read in a
 * new statement, whose snapshot sees that commit. Bounded by the adapter's statement timeout.
 */
export async function decideAbort(adapter: SqlDatabaseAdapter, nodeId: string, globalId: string): Promise<Decision> {
  await ensureDecisionTable(adapter);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const inserted = await adapter.query(
      `INSERT INTO ${DECISION_TABLE} (global_id, node_id, decision) SELECT ?, ?, 'abort' FROM ${DURABLE}
       ON CONFLICT (global_id) DO NOTHING RETURNING decision`,
      [globalId, nodeId],
    );
    if (inserted.length === 1) return 'abort';
    const held = (await readDecisions(adapter, [globalId])).get(globalId);
    if (held) return held;
    // The row went between the two statements (removed once finished): ask again.
  }
  throw new QueryError(adapter.id, `the decision row of ${globalId} kept changing while it was being decided`, {});
}

/** Removes rows whose transactions finished: one statement for many, not waiting for the disk (losing it costs a leftover). */
export async function removeDecisions(adapter: SqlDatabaseAdapter, globalIds: readonly string[]): Promise<void> {
  if (globalIds.length === 0) return;
  await missingTableIsEmpty(adapter.execute(`DELETE FROM ${DECISION_TABLE} USING ${RELAXED} WHERE global_id = ANY(?::text[])`, [[...globalIds]]).then(() => []));
}

/** Rows of one node older than `olderThanMs`, by the server's clock. */
export async function oldDecisions(adapter: SqlDatabaseAdapter, nodeId: string, olderThanMs: number, limit: number): Promise<string[]> {
  const rows = await missingTableIsEmpty(adapter.query<{ global_id: string }>(
    `SELECT global_id FROM ${DECISION_TABLE} WHERE node_id = ? AND decided_at < now() - make_interval(secs => ?) ORDER BY decided_at LIMIT ?`,
    [nodeId, olderThanMs / 1000, limit],
  ));
  return rows.map((r) => r.global_id);
}

async function missingTableIsEmpty<T>(work: Promise<T[]>): Promise<T[]> {
  try {
    return await work;
  } catch (error) {
    // 42P01: no such table: this database never held a decision.
    if (error instanceof QueryError && error.sqlState === '42P01') return [];
    throw error;
  }
}
