import type { TransactionContext } from '../adapters/database-adapter.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { CapabilityError, LifecycleError, UsageError } from '../errors/index.js';
import { defaultActor } from '../state/state-store.js';
import { logOperation } from '../util/log-operation.js';
import { CoordinatorLog, type LogRecord } from './coordinator-log.js';
import { markerKey, messageOf, runDistributed, type CoordinatorCounters } from './distributed-transaction.js';
import { runLocalTransaction } from './local-transaction.js';
import { DecisionRowCleaner } from './decision-row-cleaner.js';
import { commitMarkableFor, lastResourceFor, planParticipants, withoutDecisionRow, type DecisionPlacement, type PlannedParticipants } from './participant-factory.js';
import { scanPrepared } from './prepared-scan.js';
import { defaultNodeId, isGlobalId } from './transaction-ids.js';
import { parseArgument } from '../config/parse-config.js';
import { TRANSACTION_DEFAULTS, transactionsSchema } from '../config/transactions-schema.js';
import { TransactionRecovery } from './transaction-recovery.js';
import { withCommitInvalidations, type CommitInvalidator, type InvalidatingContext } from './commit-invalidations.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { SystemCheck } from '../monitoring/system-check.js';
import { inDoubt, transactionChecks } from './transaction-checks.js';
import { registerTransactionMetrics } from './transaction-metrics.js';
import type {
  DistributedContext,
  DistributedOptions,
  DistributedOutcome,
  DistributedResult,
  LocalTransactionOptions,
  PreparedBranch,
  RecoveryReport,
  ResolveResult,
  TransactionManagerOptions,
  TransactionMetrics,
  TransactionView,
} from './transaction-types.js';

/**
 * `dm.transactions`: local transactions on one database, distributed transactions over several (two-phase commit with
 * a coordinator log in the state store, at most one one-phase participant committed last), recovery of in-doubt
 * transactions (at first use of distributed transactions and then periodically), and the operator's view and
 * resolution. See docs/transactions.md.
 */
type CoordinatorOptions = Required<Omit<TransactionManagerOptions, 'nodeId'>> & { nodeId: string | undefined };

export class TransactionManager {
  #options: CoordinatorOptions = { ...TRANSACTION_DEFAULTS, nodeId: undefined };
  readonly #live = new Set<string>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #decisionRows = new DecisionRowCleaner();
  /** Adapters whose decision table could not be readied, already reported (once each). */
  readonly #noDecisionTable = new Set<string>();
  readonly #counters: CoordinatorCounters = { committed: 0, aborted: 0, inDoubt: 0, heuristicMixed: 0 };
  #nodeId: Promise<string> | undefined;
  #log: CoordinatorLog | undefined;
  #recovery: TransactionRecovery | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #pass: Promise<RecoveryReport> | undefined;
  #closed = false;
  #fileApplied = false;
  #invalidator: CommitInvalidator | undefined;

  constructor(private readonly context: () => DatakeepContext, metrics?: MetricsRegistry) {
    if (metrics) registerTransactionMetrics(metrics.registry, { adapters: () => this.context().registry.all(), live: this.#live, counters: this.#counters });
  }

  /** The options, with the config file's `transactions` section applied once (configure() overrides it). */
  #opts(): CoordinatorOptions {
    if (!this.#fileApplied) {
      this.#fileApplied = true;
      const section = this.context().config.transactions;
      if (section) this.#apply(parseArgument(transactionsSchema, section, 'transactions'));
    }
    return this.#options;
  }

  /** Sets the coordinator's options; allowed until the first distributed transaction or recovery pass. */
  configure(options: TransactionManagerOptions): void {
    if (this.#nodeId) throw new LifecycleError('transactions.configure() after the coordinator started; call it right after initialize()');
    const checked = parseArgument(transactionsSchema, options, 'options');
    if (!this.#fileApplied) this.#opts();
    this.#apply(checked);
  }

  #apply(options: TransactionManagerOptions): void {
    this.#options = { ...this.#options, ...stripUndefined(options) };
  }

  /** This coordinator's node id: configured, or derived from the host name and the state store's location. */
  nodeId(): Promise<string> {
    this.#nodeId ??= (async () => {
      if (this.#opts().nodeId) return this.#opts().nodeId!;
      return defaultNodeId((await this.context().state()).location);
    })().catch((error: unknown) => {
      this.#nodeId = undefined;
      throw error;
    });
    return this.#nodeId;
  }

  /**
   * A transaction on one database: the adapter's `transaction()` with its isolation levels (an unsupported level is a
   * CapabilityError), read-only mode, savepoints and nested calls as savepoints, plus `timeout`. The context also has
   * `invalidate()` (see commit-invalidations.ts); it is typed as the plain context so that casts to an engine's own
   * context (`tx as RedisTransactionContext`) keep compiling: `(tx as InvalidatingContext).invalidate(...)`.
   */
  async run<T>(adapterId: string, fn: (tx: TransactionContext) => Promise<T>, options?: LocalTransactionOptions): Promise<T> {
    const adapter = this.context().registry.get(adapterId);
    return withCommitInvalidations(this.#invalidator, (wrap, body) => runLocalTransaction(adapter, (tx) => body(() => fn(wrap(tx))), options));
  }

  /** Where `tx.invalidate()` sends a committed transaction's invalidations (the DataManager passes its cache). */
  useInvalidator(invalidator: CommitInvalidator): void {
    this.#invalidator = invalidator;
  }

  /**
   * A distributed transaction over the databases with these ids: PostgreSQL and MariaDB/MySQL prepare (two-phase
   * commit); at most one Redis or MongoDB database is committed last. Resolves only when every participant committed;
   * otherwise rejects with a DistributedTransactionError whose `outcome` is `aborted`, `in-doubt` or `heuristic-mixed`.
   */
  async distributed<T>(participants: readonly string[], fn: (tx: InvalidatingContext<DistributedContext>) => Promise<T>, options: DistributedOptions = {}): Promise<DistributedResult<T>> {
    if (this.#closed) throw new LifecycleError('the transaction manager is closed');
    if (!Array.isArray(participants)) throw new UsageError('participants', 'expected an array of database ids, e.g. ["orders", "billing"]');
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (tx) => Promise<result>');
    const timeout = options.timeout ?? this.#opts().defaultTimeout;
    if (!Number.isInteger(timeout) || timeout < 1) throw new UsageError('options.timeout', `expected an integer >= 1 (milliseconds), got ${String(options.timeout)}`);
    if (options.onStep !== undefined && typeof options.onStep !== 'function') throw new UsageError('options.onStep', 'expected a function (step, globalId) => void');
    const phase2 = options.phase2 ?? 'wait';
    if (phase2 !== 'wait' && phase2 !== 'background') throw new UsageError('options.phase2', `expected "wait" (answer after every branch committed) or "background" (answer once the commit decision is durable), got ${JSON.stringify(options.phase2)}`);
    const decisionIn = options.decisionIn ?? 'auto';
    if (decisionIn !== false && typeof decisionIn !== 'string') throw new UsageError('options.decisionIn', `expected "auto", a participant's id or false, got ${JSON.stringify(options.decisionIn)}`);
    const registry = this.context().registry;
    const plan = await this.#readyDecisionRow(planParticipants(participants.map((id) => registry.get(id)), decisionIn), decisionIn);
    if (options.isolationLevel !== undefined) {
      for (const { participant } of plan.xa) {
        const adapter = registry.get(participant.adapterId);
        if (!adapter.capabilities.isolationLevels.includes(options.isolationLevel)) {
          throw new CapabilityError(adapter.id, `isolation level "${options.isolationLevel}"`, `${adapter.type} offers ${adapter.capabilities.isolationLevels.join(', ')}`, 'Choose one of those levels; datakeep never downgrades silently');
        }
      }
    }
    const nodeId = await this.nodeId();
    this.start();
    const deps = { nodeId, log: this.#coordinatorLog(), live: this.#live, logger: this.context().logger, counters: this.#counters, background: this.#background, decisionRows: this.#decisionRows };
    const settings = { timeoutMs: timeout, isolationLevel: options.isolationLevel, onStep: options.onStep, phase2 };
    // With phase 2 in the background the branches commit after the answer: invalidations wait for `settled`, or a
    // reader could put the old row back into the cache between the answer and the branches' commit.
    const afterSettled = phase2 === 'background' ? (r: DistributedResult<T>) => r.settled : undefined;
    return withCommitInvalidations(this.#invalidator, (wrap, body) => runDistributed(deps, plan, (tx) => body(() => fn(wrap(tx))), settings), afterSettled);
  }

  /**
   * Readies the decision holder's side (its table); when that fails and the holder was chosen automatically, the
   * transaction runs with every participant prepared instead (same guarantees, one more prepare), reported once.
   */
  async #readyDecisionRow(plan: PlannedParticipants, decisionIn: DecisionPlacement): Promise<PlannedParticipants> {
    const held = plan.decisionRow;
    if (!held) return plan;
    try {
      await held.participant.ready();
      return plan;
    } catch (error) {
      if (decisionIn !== 'auto') throw error;
      if (!this.#noDecisionTable.has(held.record.adapterId)) {
        this.#noDecisionTable.add(held.record.adapterId);
        this.context().logger.log('warn', 'distributed transactions prepare every participant: the decision table could not be readied', {
          operation: 'transaction.distributed', adapter: held.record.adapterId, error: messageOf(error),
        });
      }
      return withoutDecisionRow(plan);
    }
  }

  /**
   * Starts recovery: one pass now (in the background) and then every `recoveryInterval` ms on an unref'd timer, until
   * close(). Called by the first distributed transaction; call it at start-up to recover without waiting for one.
   */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.recover().catch((error: unknown) => this.context().logger.log('error', 'transaction recovery failed', { operation: 'transaction.recovery', error: messageOf(error) }));
    if (this.#opts().recoveryInterval > 0) {
      this.#timer = setInterval(() => {
        if (this.#pass) return;
        void this.recover().catch((error: unknown) => {
          if (error instanceof LifecycleError) this.#stopTimer();
          else this.context().logger.log('error', 'transaction recovery failed', { operation: 'transaction.recovery', error: messageOf(error) });
        });
      }, this.#opts().recoveryInterval);
      this.#timer.unref();
    }
  }

  /**
   * One recovery pass (see TransactionRecovery); concurrent calls share it. Call it again after a failover: prepared
   * transactions survive promotion, and the new primary's are then finished.
   */
  recover(): Promise<RecoveryReport> {
    if (this.#closed) return Promise.reject(new LifecycleError('the transaction manager is closed'));
    this.#pass ??= (async () => {
      try {
        return await (await this.#recoveryEngine()).pass();
      } finally {
        this.#pass = undefined;
      }
    })();
    return this.#pass;
  }

  /** Unfinished logged transactions (every node) and every prepared branch on the participants, grouped by global id. */
  async list(): Promise<TransactionView[]> {
    const registry = this.context().registry;
    const [open, scan] = await Promise.all([this.#coordinatorLog().open(), scanPrepared(registry.all(), { all: true })]);
    const byId = new Map<string, { record: LogRecord | undefined; prepared: PreparedBranch[] }>();
    for (const record of open) byId.set(record.globalId, { record, prepared: [] });
    const unlogged = scan.branches.filter((b) => b.prepared.globalId !== undefined && !byId.has(b.prepared.globalId)).map((b) => b.prepared.globalId!);
    for (const [id, record] of await this.#coordinatorLog().get([...new Set(unlogged)])) byId.set(id, { record, prepared: [] });
    for (const { prepared } of scan.branches) {
      const key = prepared.globalId ?? prepared.transactionId;
      const entry = byId.get(key) ?? { record: undefined, prepared: [] };
      entry.prepared.push(prepared);
      byId.set(key, entry);
    }
    const views: TransactionView[] = [];
    for (const [globalId, { record, prepared }] of byId) {
      const oldestPrepared = prepared.reduce<number | undefined>((age, p) => (p.preparedAt ? Math.max(age ?? 0, (Date.now() - p.preparedAt.getTime()) / 1000) : age), undefined);
      views.push({
        globalId,
        nodeId: record?.nodeId ?? prepared[0]?.nodeId,
        // A transaction held by a decision row is never logged: its prepared branches' ids name the holder.
        state: record?.state ?? (prepared.some((p) => p.decidedBy !== undefined) ? 'decision-row' : 'unlogged'),
        decision: record?.decision,
        outcome: record?.outcome,
        participants: record?.participants ?? [],
        createdAt: record?.createdAt,
        ageSeconds: record ? Math.round(record.ageMs / 100) / 10 : oldestPrepared === undefined ? undefined : Math.round(oldestPrepared * 10) / 10,
        prepared,
        inDoubt: !this.#live.has(globalId) && (prepared.length > 0 || (record?.decision !== undefined && record.state !== 'finished')),
      });
    }
    return views.sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0));
  }

  /**
   * The operator's resolution of one distributed transaction: commits or rolls back every prepared branch carrying
   * its global id and records the decision; audited (with `dryRun`, only audited). Refuses a commit that would split
   * the transaction (a branch not prepared, a last resource that did not commit) and a transaction running in this
   * process. Overriding a recorded decision after some branches finished is allowed and reported `heuristic-mixed`.
   */
  async resolve(globalId: string, action: 'commit' | 'rollback', options: { dryRun?: boolean; actor?: string } = {}): Promise<ResolveResult> {
    return logOperation(this.context().logger, 'transaction.resolve', { globalId, action, dryRun: options?.dryRun ?? false }, () => this.#resolve(globalId, action, options ?? {}), {
      result: (r) => ({ outcome: r.outcome, finished: r.finished }),
    });
  }

  async #resolve(globalId: string, action: 'commit' | 'rollback', options: { dryRun?: boolean; actor?: string }): Promise<ResolveResult> {
    if (!isGlobalId(globalId)) throw new UsageError('ID', `"${String(globalId)}" is not a datakeep global transaction id; datakeep tx list shows them`);
    if (action !== 'commit' && action !== 'rollback') throw new UsageError('action', 'expected "commit" or "rollback" (--commit or --rollback)');
    if (this.#live.has(globalId)) throw new UsageError('ID', `transaction ${globalId} is running in this process; let its coordinator finish it`);
    const registry = this.context().registry;
    const log = this.#coordinatorLog();
    const record = (await log.get([globalId])).get(globalId);
    const scan = await scanPrepared(registry.all());
    const branches = scan.branches.filter((b) => b.prepared.globalId === globalId);
    if (!record && branches.length === 0) {
      throw new UsageError('ID', `no transaction ${globalId}: it is neither in the coordinator log nor prepared on any configured database; datakeep tx list shows what is`);
    }
    const xaParticipants = record?.participants.filter((p) => p.role === 'xa') ?? [];
    for (const p of xaParticipants) {
      if (scan.unreachable.has(p.adapterId)) throw new UsageError('ID', `participant ${p.adapterId} cannot be reached (${scan.unreachable.get(p.adapterId)}); resolve once it is back`);
    }
    const lrRecord = record?.participants.find((p) => p.role === 'last-resource');
    let lrCommitted: boolean | undefined;
    if (lrRecord && record) {
      const lr = lastResourceFor(registry.get(lrRecord.adapterId));
      lrCommitted = lr ? await lr.hasMarker(markerKey(record.nodeId, globalId)) : undefined;
    }
    // A transaction decided by a decision row: the row is the decision, whatever the operator wants.
    const holderId = record?.participants.find((p) => p.role === 'decision-row')?.adapterId ?? branches.find((b) => b.prepared.decidedBy !== undefined)?.prepared.decidedBy;
    const holder = holderId === undefined ? undefined : commitMarkableFor(registry.get(holderId));
    let rowDecision = holder ? (await holder.peek([globalId])).get(globalId) : undefined;
    const finishedAlready = xaParticipants.length - branches.length;
    if (action === 'commit' && record && record.decision !== 'commit') {
      if (finishedAlready > 0) {
        throw new UsageError('--commit', `${finishedAlready} of ${xaParticipants.length} branches of ${globalId} are no longer prepared (rolled back or never prepared), so committing the others would split the transaction; use --rollback`);
      }
      if (lrRecord && lrCommitted !== true) {
        throw new UsageError('--commit', `the last resource ${lrRecord.adapterId} did not commit (no marker), so committing the prepared branches would split the transaction; use --rollback`);
      }
    }
    if (action === 'commit' && holderId !== undefined && rowDecision !== 'commit') {
      throw new UsageError('--commit', `${holderId} holds no commit decision for ${globalId} (its decision row ${rowDecision === 'abort' ? 'says abort' : 'is absent'}): the branch holding it did not commit, so committing the prepared branches would split the transaction; use --rollback`);
    }
    if (action === 'rollback' && holder && rowDecision === undefined && !options.dryRun) {
      // Decided now, as recovery decides: a commit of that row still in flight wins, and rolling back then splits.
      rowDecision = await holder.decideAbort(record?.nodeId ?? branches[0]!.prepared.nodeId!, globalId);
    }
    let outcome: DistributedOutcome = action === 'commit' ? 'committed' : 'aborted';
    if (action === 'rollback' && ((record?.decision === 'commit' && finishedAlready > 0) || lrCommitted === true || rowDecision === 'commit')) outcome = 'heuristic-mixed';
    const actor = options.actor ?? defaultActor();
    const dryRun = options.dryRun ?? false;
    const state = await this.context().state();
    const details = {
      action,
      previousDecision: record?.decision ?? null,
      outcome,
      branches: branches.map((b) => ({ adapterId: b.participant.adapterId, transactionId: b.prepared.transactionId })),
    };
    if (dryRun) {
      await state.audit({ actor, action: 'tx.resolve', target: globalId, dryRun: true, details });
      return { globalId, action, outcome, finished: [], dryRun: true };
    }
    if (record) await log.overrideDecision(globalId, action === 'commit' ? 'commit' : 'abort');
    const finished: string[] = [];
    const stuck: string[] = [];
    for (const { participant, prepared } of branches) {
      const result = await participant.finish({ nodeId: prepared.nodeId!, globalId, branch: prepared.branch!, decidedBy: prepared.decidedBy }, action === 'commit');
      if (result === 'attached') stuck.push(`${participant.adapterId} branch ${prepared.branch}`);
      else finished.push(prepared.transactionId);
    }
    if (record && stuck.length === 0) await log.finish(globalId, outcome);
    if (holder && stuck.length === 0) await holder.forget([globalId]);
    await state.audit({ actor, action: 'tx.resolve', target: globalId, details: { ...details, finished, stuck } });
    if (stuck.length > 0) {
      throw new UsageError('ID', `${stuck.join(', ')} still belong to a live session (its coordinator is running); the decision is recorded and recovery finishes them once that session ends`);
    }
    return { globalId, action, outcome, finished, dryRun: false };
  }

  /** Counters of this process plus what the participants and the log hold now (prepared branches, in-doubt records). */
  async metrics(): Promise<TransactionMetrics> {
    const registry = this.context().registry;
    const [scan, open] = await Promise.all([scanPrepared(registry.all(), { all: true }), this.#coordinatorLog().open().catch(() => [] as LogRecord[])]);
    const ages = scan.branches.map((b) => b.prepared.preparedAt).filter((d): d is Date => d !== undefined).map((d) => (Date.now() - d.getTime()) / 1000);
    const doubtful = inDoubt(open, this.#live);
    return {
      inFlight: this.#live.size,
      ...this.#counters,
      recoveryPasses: this.#recovery?.passes ?? 0,
      prepared: { count: scan.branches.length, oldestAgeSeconds: ages.length ? round1(Math.max(...ages)) : undefined },
      inDoubtLogged: { count: doubtful.length, oldestAgeSeconds: doubtful.length ? round1(Math.max(...doubtful.map((r) => r.ageMs)) / 1000) : undefined },
    };
  }

  /** validateSystem()'s checks: databases that cannot prepare, prepared branches in doubt, the coordinator log. */
  async validationChecks(): Promise<SystemCheck[]> {
    return transactionChecks({ adapters: this.context().registry.all(), stalePreparedAfterMs: this.#opts().stalePreparedAfter, live: this.#live, openLog: () => this.#coordinatorLog().open() });
  }

  /** Stops periodic recovery and waits for a pass in flight and for phases 2 running in the background. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    await this.#pass?.catch(() => undefined);
    await Promise.allSettled([...this.#background]);
    await Promise.all([this.#log?.flush(), this.#decisionRows.flush()]);
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #coordinatorLog(): CoordinatorLog {
    this.#log ??= new CoordinatorLog(async () => (await this.context().state()).adapter);
    return this.#log;
  }

  async #recoveryEngine(): Promise<TransactionRecovery> {
    if (!this.#recovery) {
      const nodeId = await this.nodeId();
      this.#recovery ??= new TransactionRecovery({
        nodeId,
        log: this.#coordinatorLog(),
        live: this.#live,
        logger: this.context().logger,
        adapters: () => this.context().registry.all(),
        graceMs: this.#opts().recoveryGrace,
        decisionRows: this.#decisionRows,
      });
    }
    return this.#recovery;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
