import type { DatabaseAdapter, Row } from '../adapters/database-adapter.js';
import { DelayedBatch } from './delayed-batch.js';
import { GroupCommit } from './group-commit.js';
import type { Decision, DistributedOutcome, ParticipantRecord } from './transaction-types.js';

export type LogState = 'active' | 'last-resource' | 'decided' | 'finished';

export interface BeginRecord {
  readonly globalId: string;
  readonly nodeId: string;
  readonly participants: readonly ParticipantRecord[];
  readonly timeoutMs: number;
}

interface DecisionRecord {
  readonly globalId: string;
  readonly decision: Decision;
  readonly from: readonly LogState[];
}

export interface LogRecord {
  readonly globalId: string;
  readonly nodeId: string;
  readonly state: LogState;
  readonly decision: Decision | undefined;
  readonly outcome: DistributedOutcome | undefined;
  readonly participants: readonly ParticipantRecord[];
  readonly timeoutMs: number;
  readonly createdAt: Date;
  /** Milliseconds since the row was written, and since its state last changed, by the state store's clock. */
  readonly ageMs: number;
  readonly stateAgeMs: number;
}

// Every write that recovery depends on (last-resource claim, decision) is made durable before the
// coordinator moves on, even when the state store's server runs with synchronous_commit = off: set_config(..., true)
// is SET LOCAL inside the statement's own transaction, so one round trip does it. The join makes the planner
// evaluate it.
const DURABLE = "(SELECT set_config('synchronous_commit', 'on', true) AS sc) AS durable";
// The finishing mark is only housekeeping: if it is lost, recovery finds nothing prepared and writes it again.
const RELAXED = "(SELECT set_config('synchronous_commit', 'off', true) AS sc) AS relaxed";
// A transaction decided by a decision row (commit-markable participant) has no decision in the log until it finishes:
// the finished record then shows the decision its outcome implies, as every other finished record does.
const DECISION_FROM_OUTCOME = "decision = COALESCE(l.decision, CASE WHEN v.outcome = 'aborted' THEN 'abort' ELSE 'commit' END)";
const COLUMNS = `global_id, node_id, state, decision, outcome, participants, timeout_ms, created_at,
  (extract(epoch FROM (now() - created_at)) * 1000)::float8 AS age_ms,
  (extract(epoch FROM (now() - state_at)) * 1000)::float8 AS state_age_ms`;

/**
 * The coordinator log in the state store (`datakeep.tx_log`): the participants before any prepare, the decision before
 * phase 2, compare-and-set transitions so that a coordinator and a recovery pass never both decide.
 */
export class CoordinatorLog {
  readonly #finishing = new DelayedBatch<{ globalId: string; outcome: DistributedOutcome }>((batch) => this.#writeFinished(batch));
  readonly #begins = new GroupCommit<BeginRecord, void>((records) => this.#writeBegins(records), (r) => r.globalId);
  readonly #decisions = new GroupCommit<DecisionRecord, boolean>((records) => this.#writeDecisions(records), (r) => r.globalId);

  constructor(private readonly adapter: () => Promise<DatabaseAdapter>) {}

  async #writeBegins(records: readonly BeginRecord[]): Promise<void[]> {
    const db = await this.adapter();
    await db.execute(
      `INSERT INTO datakeep.tx_log (global_id, node_id, state, participants, timeout_ms)
       SELECT v.id, v.node, 'active', v.participants::jsonb, v.timeout
       FROM unnest(?::text[], ?::text[], ?::text[], ?::int[]) AS v(id, node, participants, timeout), ${RELAXED}`,
      [records.map((r) => r.globalId), records.map((r) => r.nodeId), records.map((r) => JSON.stringify(r.participants)), records.map((r) => r.timeoutMs)],
    );
    return records.map(() => undefined);
  }

  async #writeDecisions(records: readonly DecisionRecord[]): Promise<boolean[]> {
    const db = await this.adapter();
    const rows = await db.query<{ global_id: string }>(
      `UPDATE datakeep.tx_log AS l SET decision = v.decision, state = 'decided', state_at = now()
       FROM unnest(?::text[], ?::text[], ?::text[]) AS v(id, decision, from_states), ${DURABLE}
       WHERE l.global_id = v.id AND l.decision IS NULL AND l.state = ANY(string_to_array(v.from_states, ','))
       RETURNING l.global_id`,
      [records.map((r) => r.globalId), records.map((r) => r.decision), records.map((r) => r.from.join(','))],
    );
    const won = new Set(rows.map((r) => String(r.global_id)));
    return records.map((r) => won.has(r.globalId));
  }

  /**
   * The participant list, before any branch prepares. Written in a batch with the other transactions beginning at the
   * same moment, and without waiting for the disk: under presumed abort a lost begin record costs nothing (the
   * decision's compare-and-set then finds no row and the coordinator rolls back; recovery presumes abort for prepared
   * branches with no record). The decision's forced flush makes every earlier record durable with it.
   */
  begin(record: BeginRecord): Promise<void> {
    return this.#begins.submit(record);
  }

  /** active -> last-resource: the one-phase participant is about to commit. False when recovery aborted it first. */
  async claimLastResource(globalId: string): Promise<boolean> {
    const db = await this.adapter();
    const n = await db.execute(
      `UPDATE datakeep.tx_log SET state = 'last-resource', state_at = now() FROM ${DURABLE}
       WHERE global_id = ? AND state = 'active' AND decision IS NULL`,
      [globalId],
    );
    return n === 1;
  }

  /**
   * Records the decision if none is recorded yet and the state is one of `from`; false when another party decided (or
   * the record is missing). Durable before it resolves; decisions of concurrent transactions share one statement and
   * one flush (group commit).
   */
  decide(globalId: string, decision: Decision, from: readonly LogState[]): Promise<boolean> {
    return this.#decisions.submit({ globalId, decision, from });
  }

  /** An operator's decision: overrides whatever is recorded (the caller audits it). */
  async overrideDecision(globalId: string, decision: Decision): Promise<void> {
    const db = await this.adapter();
    await db.execute(`UPDATE datakeep.tx_log SET decision = ?, state = 'decided', state_at = now() FROM ${DURABLE} WHERE global_id = ?`, [decision, globalId]);
  }

  async setOutcome(globalId: string, outcome: DistributedOutcome): Promise<void> {
    const db = await this.adapter();
    await db.execute(`UPDATE datakeep.tx_log SET outcome = ? FROM ${RELAXED} WHERE global_id = ?`, [outcome, globalId]);
  }

  /**
   * Marks a transaction finished soon, together with the others finishing within a few milliseconds: one statement
   * for many, off the caller's path. Losing it costs nothing (recovery finds nothing prepared and marks it again).
   */
  finishSoon(globalId: string, outcome: DistributedOutcome): void {
    this.#finishing.add({ globalId, outcome });
  }

  /** Writes the pending finish marks; resolves when they are written (or failed: they are only housekeeping). */
  flush(): Promise<void> {
    return this.#finishing.flush();
  }

  async #writeFinished(batch: readonly { globalId: string; outcome: DistributedOutcome }[]): Promise<void> {
    const db = await this.adapter();
    await db.execute(
      `UPDATE datakeep.tx_log AS l SET state = 'finished', outcome = v.outcome, ${DECISION_FROM_OUTCOME}, state_at = now(), finished_at = now()
       FROM (SELECT unnest(?::text[]) AS id, unnest(?::text[]) AS outcome) AS v, ${RELAXED}
       WHERE l.global_id = v.id`,
      [batch.map((b) => b.globalId), batch.map((b) => b.outcome)],
    );
  }

  async finish(globalId: string, outcome: DistributedOutcome): Promise<void> {
    const db = await this.adapter();
    await db.execute(
      `UPDATE datakeep.tx_log AS l SET state = 'finished', outcome = v.outcome, ${DECISION_FROM_OUTCOME}, state_at = now(), finished_at = now()
       FROM (SELECT ?::text AS outcome) AS v, ${RELAXED} WHERE l.global_id = ?`,
      [outcome, globalId],
    );
  }

  /** Unfinished transactions, of one node or of all. */
  async open(nodeId?: string): Promise<LogRecord[]> {
    const db = await this.adapter();
    const rows = nodeId === undefined
      ? await db.query(`SELECT ${COLUMNS} FROM datakeep.tx_log WHERE finished_at IS NULL ORDER BY created_at`)
      : await db.query(`SELECT ${COLUMNS} FROM datakeep.tx_log WHERE finished_at IS NULL AND node_id = ? ORDER BY created_at`, [nodeId]);
    return rows.map(toRecord);
  }

  async get(globalIds: readonly string[]): Promise<Map<string, LogRecord>> {
    if (globalIds.length === 0) return new Map();
    const db = await this.adapter();
    const rows = await db.query(`SELECT ${COLUMNS} FROM datakeep.tx_log WHERE global_id = ANY(?::text[])`, [[...globalIds]]);
    return new Map(rows.map((r) => [String(r.global_id), toRecord(r)]));
  }

  /** Removes finished records older than `days`. */
  async prune(days: number): Promise<number> {
    const db = await this.adapter();
    return db.execute(`DELETE FROM datakeep.tx_log WHERE finished_at < now() - make_interval(days => ?)`, [days]);
  }
}

function toRecord(r: Row): LogRecord {
  const participants = typeof r.participants === 'string' ? (JSON.parse(r.participants) as ParticipantRecord[]) : (r.participants as ParticipantRecord[]);
  return {
    globalId: String(r.global_id),
    nodeId: String(r.node_id),
    state: r.state as LogState,
    decision: (r.decision as Decision | null) ?? undefined,
    outcome: (r.outcome as DistributedOutcome | null) ?? undefined,
    participants,
    timeoutMs: Number(r.timeout_ms),
    createdAt: r.created_at as Date,
    ageMs: Number(r.age_ms),
    stateAgeMs: Number(r.state_age_ms),
  };
}
