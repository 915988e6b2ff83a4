import type { IsolationLevel } from '../adapters/capabilities.js';
import type { TransactionContext, TransactionOptions } from '../adapters/database-adapter.js';

/**
 * How a distributed transaction ended:
 * - `committed`: every participant committed;
 * - `aborted`: every participant rolled back (or never prepared);
 * - `in-doubt`: the outcome is not known yet (a participant did not answer during commit, the last resource's commit
 *   was lost with its connection): recovery finishes it, always to one outcome for every participant;
 * - `heuristic-mixed`: some participants committed and others rolled back (an operator resolved a branch against the
 *   recorded decision, or a last resource committed after recovery had already aborted the others).
 */
export type DistributedOutcome = 'committed' | 'aborted' | 'in-doubt' | 'heuristic-mixed';

/** The coordinator's decision, as logged. No decision means abort (presumed abort). */
export type Decision = 'commit' | 'abort';

/**
 * The points of a distributed transaction where the coordinator calls `onStep`, in order:
 * `logged` (participants and global id durable, nothing prepared), `prepared:N` after branch N prepared,
 * `last-resource` (before the one-phase participant commits), `last-resource-committed`, `decided` (commit decision
 * durable), `committed:N` after branch N committed, `finished`.
 */
export type TransactionStep = string;

export interface LocalTransactionOptions extends TransactionOptions {
  /**
   * Milliseconds the whole transaction may take. Statements are bounded by the server (PostgreSQL `statement_timeout`,
   * MariaDB `max_statement_time`) to what is left, statements after the deadline are refused, and a callback that
   * returns after it is rolled back, never committed: a TimeoutError with `kind: 'operation'`.
   */
  timeout?: number;
}

export interface DistributedOptions {
  /** Milliseconds from start until every branch must be prepared (default 30000); past it the transaction aborts. */
  timeout?: number;
  /** Isolation level of every SQL branch; an engine that cannot honour it is a CapabilityError before anything runs. */
  isolationLevel?: IsolationLevel;
  /**
   * Called at each step (see TransactionStep) and awaited. A seam for tracing and for fault injection in tests (a
   * test's child process kills itself here); production code never needs it.
   */
  onStep?: (step: TransactionStep, globalId: string) => void | Promise<void>;
  /**
   * When the promise resolves (default `wait`):
   * - `wait`: after every branch committed, so any later read, on any session, sees the writes;
   * - `background`: as soon as the commit decision is durable (the transaction is then committed: nothing can roll
   *   it back, and recovery finishes it after a crash); the branches commit right after, in the background. Until
   *   they do, a statement that locks or writes the changed rows waits for them and then sees the commit, but a plain
   *   read may still see the data as it was before. Await `result.settled` before such reads (docs/transactions.md,
   *   "Phase 2 in the background").
   */
  phase2?: 'wait' | 'background';
  /**
   * Which participant holds the commit decision (default `auto`): with no one-phase participant (Redis, MongoDB) in
   * the transaction, one participant whose engine can (PostgreSQL) is not prepared: after every other branch
   * prepared, it commits its work together with a decision row in its own database, and that commit is the decision
   * (one prepare, one commit-prepared and the coordinator log's forced decision fewer). `auto`: the first such
   * participant in the list; an id: that one (a CapabilityError if it cannot); `false`: every participant prepares.
   */
  decisionIn?: 'auto' | false | string;
}

/** What the callback of `distributed()` receives: one transaction context per participant. */
export interface DistributedContext {
  readonly globalId: string;
  /**
   * The participant's context: for PostgreSQL and MariaDB a SQL branch (`query`, `execute`, savepoints); for Redis a
   * RedisTransactionContext (`queue`); for MongoDB a MongoTransactionContext. Name the type you expect:
   * `tx.on<RedisTransactionContext>('cache')`.
   */
  on<C extends TransactionContext = TransactionContext>(adapterId: string): C;
}

export interface DistributedResult<T> {
  readonly globalId: string;
  readonly outcome: 'committed';
  readonly value: T;
  /**
   * Resolves once every branch committed (phase 2 done): `committed`; or `in-doubt` when a participant did not confirm
   * its commit (recovery finishes it, always as a commit). Never rejects. Already resolved with `phase2: 'wait'`; with
   * `phase2: 'background'`, await it before reading your own writes with plain (non-locking) reads.
   */
  readonly settled: Promise<'committed' | 'in-doubt'>;
}

export interface ParticipantRecord {
  /** 1-based branch number: the last part of the branch's transaction id. */
  readonly branch: string;
  readonly adapterId: string;
  readonly type: string;
  /**
   * `xa`: prepared, then committed; `last-resource`: committed in one phase after every `xa` branch prepared;
   * `decision-row`: committed in one phase after every `xa` branch prepared, with a row whose commit is the decision.
   */
  readonly role: 'xa' | 'last-resource' | 'decision-row';
}

/** A prepared branch as found on a participant (pg_prepared_xacts, XA RECOVER). */
export interface PreparedBranch {
  readonly adapterId: string;
  readonly type: string;
  /** The id as the server shows it (PostgreSQL gid; MariaDB gtrid:bqual as text). */
  readonly transactionId: string;
  readonly nodeId: string | undefined;
  readonly globalId: string | undefined;
  readonly branch: string | undefined;
  /** The adapter id whose decision row decides this branch's transaction (commit-markable participant), if any. */
  readonly decidedBy: string | undefined;
  /** When it was prepared (PostgreSQL only). */
  readonly preparedAt: Date | undefined;
}

/** One distributed transaction as `list()` shows it. */
export interface TransactionView {
  readonly globalId: string;
  readonly nodeId: string | undefined;
  /**
   * `active`, `last-resource`, `decided`, `finished`; `decision-row` for prepared branches of a transaction decided by
   * a decision row (never logged); `unlogged` for other prepared branches with no log record.
   */
  readonly state: string;
  readonly decision: Decision | undefined;
  readonly outcome: DistributedOutcome | undefined;
  readonly participants: readonly ParticipantRecord[];
  readonly createdAt: Date | undefined;
  readonly ageSeconds: number | undefined;
  readonly prepared: readonly PreparedBranch[];
  /** True when a decision is recorded but branches are still prepared, or branches are prepared with no decision. */
  readonly inDoubt: boolean;
}

export interface ResolveResult {
  readonly globalId: string;
  readonly action: 'commit' | 'rollback';
  readonly outcome: DistributedOutcome;
  readonly finished: readonly string[];
  readonly dryRun: boolean;
}

export interface RecoveryReport {
  readonly committed: readonly string[];
  readonly rolledBack: readonly string[];
  /** Global ids recovery could not finish in this pass (a participant unreachable, a branch still attached). */
  readonly pending: readonly string[];
  /** Global ids left alone in this pass: young, live in this process, or seen for the first time (two-pass rule). */
  readonly deferred: readonly string[];
  readonly errors: readonly string[];
}

export interface TransactionMetrics {
  readonly inFlight: number;
  readonly committed: number;
  readonly aborted: number;
  readonly inDoubt: number;
  readonly heuristicMixed: number;
  readonly recoveryPasses: number;
  /** Branches prepared on the participants right now (every coordinator), and the oldest one's age. */
  readonly prepared: { readonly count: number; readonly oldestAgeSeconds: number | undefined };
  /** Logged transactions with a decision whose branches are not all finished, and the oldest one's age. */
  readonly inDoubtLogged: { readonly count: number; readonly oldestAgeSeconds: number | undefined };
}

export type { TransactionManagerOptions } from '../config/transactions-schema.js';
