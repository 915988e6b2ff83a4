import type { IsolationLevel } from '../adapters/capabilities.js';
import type { TransactionContext } from '../adapters/database-adapter.js';
import { ConnectionError, DatakeepError, TimeoutError, TransactionError, UsageError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import type { CommitMarkedBranch } from './commit-markable.js';
import type { CoordinatorLog } from './coordinator-log.js';
import type { DecisionRowCleaner } from './decision-row-cleaner.js';
import { DistributedTransactionError } from './distributed-transaction-error.js';
import type { PlannedParticipants } from './participant-factory.js';
import { newGlobalId } from './transaction-ids.js';
import type { DistributedContext, DistributedOutcome, DistributedResult, TransactionStep } from './transaction-types.js';
import type { XaBranchHandle } from './xa-participant.js';

export interface CoordinatorCounters {
  committed: number;
  aborted: number;
  inDoubt: number;
  heuristicMixed: number;
}

export interface CoordinatorDeps {
  readonly nodeId: string;
  readonly log: CoordinatorLog;
  /** Global ids running in this process: recovery leaves them alone. */
  readonly live: Set<string>;
  readonly logger: Logger;
  readonly counters: CoordinatorCounters;
  /** Phases 2 running after their callers were answered (`phase2: 'background'`): close() waits for them. */
  readonly background: Set<Promise<unknown>>;
  /** Removes decision rows of finished transactions, in batches. */
  readonly decisionRows: DecisionRowCleaner;
}

export interface RunSettings {
  readonly timeoutMs: number;
  readonly isolationLevel: IsolationLevel | undefined;
  readonly onStep: ((step: TransactionStep, globalId: string) => void | Promise<void>) | undefined;
  /** `wait`: answer once every branch committed; `background`: once the commit decision is durable. */
  readonly phase2: 'wait' | 'background';
}

export function markerKey(nodeId: string, globalId: string): string {
  return `datakeep:tx:${nodeId}:${globalId}`;
}

/**
 * One distributed transaction, coordinated with presumed abort:
 *
 * 1. the participant list and global id are logged (durably) while the branches begin and the caller's work runs
 *    (not with a decision row: nothing is logged then);
 * 2. every XA branch prepares (in parallel), only after the log write is durable;
 * 3. with a last resource: the log moves to `last-resource` (compare-and-set), then the one-phase participant
 *    commits its work and a marker atomically: that commit is the decision;
 *    with a decision row instead (a commit-markable participant, never prepared): that participant commits its work
 *    with a row holding the decision, in one round trip: that commit is the decision, and 4 is skipped (the row's key
 *    is the compare-and-set: recovery aborts by inserting an `abort` row under it);
 * 4. the commit decision is logged (compare-and-set: fails if recovery aborted the transaction meanwhile);
 * 5. every XA branch commits (in parallel); the log is marked finished (not durably: recovery redoes it if lost).
 *    With `phase2: 'background'` the caller is answered between 4 and 5: the decision is durable, so the outcome is
 *    fixed, and `result.settled` resolves once 5 is done.
 *
 * Any failure before the decision rolls everything back. After the decision nothing rolls back: a participant that
 * does not answer leaves the transaction `in-doubt` for recovery to finish.
 */
export async function runDistributed<T>(deps: CoordinatorDeps, plan: PlannedParticipants, fn: (tx: DistributedContext) => Promise<T>, settings: RunSettings): Promise<DistributedResult<T>> {
  const globalId = newGlobalId();
  const deadline = Date.now() + settings.timeoutMs;
  const step = async (name: TransactionStep) => {
    if (settings.onStep) await settings.onStep(name, globalId);
  };
  const started = performance.now();
  const participants = plan.records.map((r) => r.adapterId);
  deps.logger.log('info', 'distributed transaction begin', { operation: 'transaction.distributed', globalId, participants, timeoutMs: settings.timeoutMs });
  deps.live.add(globalId);
  let settled: Promise<unknown> | undefined;
  try {
    const result = await new Coordinator<T>(deps, plan, settings, globalId, deadline, step).run(fn);
    settled = result.settled;
    deps.logger.log('info', 'distributed transaction committed', { operation: 'transaction.distributed', globalId, outcome: result.outcome, durationMs: Math.round(performance.now() - started) });
    return result;
  } catch (error) {
    // A rollback is the caller's error coming back (warn); an in-doubt or heuristic outcome needs an operator (error).
    const outcome = error instanceof DistributedTransactionError ? error.outcome : 'aborted';
    deps.logger.log(outcome === 'aborted' ? 'warn' : 'error', `distributed transaction ${outcome === 'aborted' ? 'rolled back' : outcome}`, {
      operation: 'transaction.distributed', globalId, outcome, durationMs: Math.round(performance.now() - started), error,
    });
    throw error;
  } finally {
    // Recovery leaves the transaction alone until its own phase 2 is over, in the background too.
    if (settled) void settled.finally(() => deps.live.delete(globalId));
    else deps.live.delete(globalId);
  }
}

class Coordinator<T> {
  readonly #branches: XaBranchHandle[] = [];
  /** The branch whose commit, with its decision row, is the decision (when the plan has one). */
  #held: CommitMarkedBranch | undefined;
  #logged: Promise<void> | undefined;
  #prepared = false;

  constructor(
    private readonly deps: CoordinatorDeps,
    private readonly plan: PlannedParticipants,
    private readonly settings: RunSettings,
    private readonly globalId: string,
    private readonly deadline: number,
    private readonly step: (name: TransactionStep) => Promise<void>,
  ) {}

  async run(fn: (tx: DistributedContext) => Promise<T>): Promise<DistributedResult<T>> {
    const { deps, plan, globalId } = this;
    // With a decision row the coordinator log is not written at all: the row is the decision, and the other branches'
    // ids name the database that holds it, which is everything recovery needs (see commit-markable.ts).
    if (!plan.decisionRow) {
      this.#logged = deps.log.begin({ globalId, nodeId: deps.nodeId, participants: plan.records, timeoutMs: this.settings.timeoutMs });
      this.#logged.catch(() => undefined);
    }
    let value: T;
    const lr = plan.lastResource;
    let lastResourcePartial: unknown;
    try {
      await this.#beginBranches();
      if (!lr) {
        value = await fn(this.#context(undefined));
        await this.#prepareAll();
        if (this.#held) {
          await this.step('last-resource');
          await this.#commitDecisionRow();
          await this.step('last-resource-committed');
        }
      } else {
        let bodyDone = false;
        try {
          value = await lr.resource.run(markerKey(deps.nodeId, globalId), async (lrContext) => {
            const v = await fn(this.#context({ adapterId: lr.record.adapterId, context: lrContext }));
            await this.#prepareAll();
            if (!(await deps.log.claimLastResource(globalId))) {
              throw new TransactionError(lr.record.adapterId, 'recovery aborted this transaction before its last resource committed (it ran past the recovery grace period)');
            }
            await this.step('last-resource');
            bodyDone = true;
            return v;
          });
        } catch (error) {
          if (!bodyDone) throw error;
          // The one-phase commit failed or its answer was lost: the marker tells whether it happened.
          const committed = await lr.resource.hasMarker(markerKey(deps.nodeId, globalId)).catch(() => undefined);
          if (committed === undefined || (committed === false && isOutcomeUnknown(error))) {
            await Promise.allSettled(this.#branches.map((b) => b.release()));
            deps.counters.inDoubt += 1;
            throw new DistributedTransactionError(globalId, 'in-doubt', `the last resource ${lr.record.adapterId} did not confirm its commit; every other participant is prepared and recovery will commit or roll them back according to its marker`, { cause: error });
          }
          if (!committed) throw error;
          // Committed, but part of the block failed (Redis applies the rest of a MULTI block): decide commit anyway.
          lastResourcePartial = error;
        }
        await this.step('last-resource-committed');
      }
    } catch (error) {
      if (error instanceof DistributedTransactionError && error.outcome === 'in-doubt') throw error;
      await this.#abort(error);
      deps.counters.aborted += 1;
      throw error instanceof DistributedTransactionError ? error : new DistributedTransactionError(globalId, 'aborted', `every participant rolled back: ${messageOf(error)}`, { cause: error, decision: 'abort' });
    }

    // With a decision row the decision is already durable in the participant's own database: nothing to log.
    const decided = plan.decisionRow ? true : await this.deps.log.decide(globalId, 'commit', lr ? ['last-resource'] : ['active']).catch((error: unknown) => error);
    if (decided !== true) {
      if (decided === false && !lr) {
        await this.#abort(new Error('recovery aborted the transaction'));
        deps.counters.aborted += 1;
        throw new DistributedTransactionError(globalId, 'aborted', 'recovery aborted this transaction before its commit decision was logged (it ran past the recovery grace period), or the state store lost its record; every participant rolled back', { decision: 'abort' });
      }
      if (decided === false) {
        await Promise.allSettled(this.#branches.map((b) => b.rollback()));
        deps.counters.heuristicMixed += 1;
        await deps.log.setOutcome(globalId, 'heuristic-mixed').catch(() => undefined);
        throw new DistributedTransactionError(globalId, 'heuristic-mixed', `the last resource ${lr!.record.adapterId} committed after recovery had aborted the other participants`, { decision: 'abort' });
      }
      // The state store did not answer: without a durable decision the transaction is undecided. Recovery decides
      // it (by the marker when there is a last resource, else it aborts).
      await Promise.allSettled(this.#branches.map((b) => b.release()));
      deps.counters.inDoubt += 1;
      throw new DistributedTransactionError(globalId, 'in-doubt', `the commit decision could not be logged: ${messageOf(decided)}`, { cause: decided });
    }
    deps.logger.log('info', 'distributed transaction decided', { operation: 'transaction.distributed', globalId, decision: 'commit' });
    if (this.settings.phase2 === 'background' && !lastResourcePartial) {
      // The decision is durable, so the transaction is committed whatever happens next: answer now and finish the
      // branches in the background (recovery finishes them if this process dies first). `settled` tells the caller
      // when every branch committed: the moment its own reads are sure to see the writes.
      deps.counters.committed += 1;
      const settled = this.#afterDecision(lr, undefined).then(
        () => 'committed' as const,
        () => 'in-doubt' as const,
      );
      deps.background.add(settled);
      void settled.finally(() => deps.background.delete(settled));
      return { globalId, outcome: 'committed', value: value!, settled };
    }
    await this.#afterDecision(lr, lastResourcePartial);
    deps.counters.committed += 1;
    return { globalId, outcome: 'committed', value: value!, settled: Promise.resolve('committed') };
  }

  /**
   * Phase 2: every XA branch commits (in parallel), the record is marked finished (in a batch, not durably), the
   * last resource's marker is removed. Rejects with a DistributedTransactionError (in-doubt or heuristic-mixed).
   */
  async #afterDecision(lr: PlannedParticipants['lastResource'], lastResourcePartial: unknown): Promise<void> {
    const { deps, globalId } = this;
    if (this.settings.phase2 === 'background') {
      // Let the caller's continuation run first: its answer never waits for phase 2 or for an onStep callback.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await this.step('decided');
    const results = await Promise.allSettled(this.#branches.map(async (b) => {
      await b.commit();
      await this.step(`committed:${b.branch}`);
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.allSettled(this.#branches.map((b) => b.release()));
      deps.counters.inDoubt += 1;
      if (!this.plan.decisionRow) await deps.log.setOutcome(globalId, 'in-doubt').catch(() => undefined);
      const error = new DistributedTransactionError(globalId, 'in-doubt', `the commit is decided and durable, but a participant did not confirm it (${messageOf(failed.reason)}); recovery will finish the commit`, { decision: 'commit', cause: failed.reason });
      if (this.settings.phase2 === 'background') {
        deps.logger.log('error', 'distributed transaction in doubt after the caller was answered', { operation: 'transaction.distributed', globalId, outcome: 'in-doubt', error });
      }
      throw error;
    }
    const outcome: DistributedOutcome = lastResourcePartial ? 'heuristic-mixed' : 'committed';
    // Housekeeping only, off the caller's path: if it is lost, recovery finds nothing prepared and marks it again.
    // With a decision row: every branch committed, so nothing needs the row any more (a lost removal is swept).
    if (this.plan.decisionRow) deps.decisionRows.forgetSoon(this.plan.decisionRow.participant, globalId);
    else deps.log.finishSoon(globalId, outcome);
    if (lr) {
      await lr.resource.clearMarker(markerKey(deps.nodeId, globalId)).catch((error: unknown) => {
        deps.logger.log('warn', 'could not remove a last-resource marker (it expires)', { globalId, error: messageOf(error) });
      });
    }
    await this.step('finished');
    if (lastResourcePartial) {
      deps.counters.heuristicMixed += 1;
      throw new DistributedTransactionError(globalId, 'heuristic-mixed', `committed, but the last resource ${lr!.record.adapterId} applied its work only in part: ${messageOf(lastResourcePartial)}`, { decision: 'commit', cause: lastResourcePartial });
    }
  }

  /**
   * One session per branch, taken one after the other in adapter-id order: every transaction takes pooled sessions in
   * the same order, so two transactions can never each hold one pool's last session while waiting for the other's.
   */
  async #beginBranches(): Promise<void> {
    const held = this.plan.decisionRow;
    const decidedBy = held?.record.adapterId;
    const options = { isolationLevel: this.settings.isolationLevel, deadline: this.deadline };
    const starts: { adapterId: string; start: () => Promise<void> }[] = this.plan.xa.map(({ record, participant }) => ({
      adapterId: record.adapterId,
      start: async () => {
        this.#branches.push(await participant.begin({ nodeId: this.deps.nodeId, globalId: this.globalId, branch: record.branch, decidedBy }, options));
      },
    }));
    if (held) {
      starts.push({
        adapterId: held.record.adapterId,
        start: async () => {
          this.#held = await held.participant.begin({ nodeId: this.deps.nodeId, globalId: this.globalId, branch: held.record.branch }, options);
        },
      });
    }
    starts.sort((a, b) => (a.adapterId < b.adapterId ? -1 : a.adapterId > b.adapterId ? 1 : 0));
    for (const { start } of starts) await start();
  }

  /**
   * The decision: the holder commits its work with the decision row. A server error means it did not commit (the
   * caller's catch rolls everything back). A lost answer is settled by deciding from another session: the insert of an
   * `abort` row waits for a commit still in flight, so the row that holds afterwards is the decision.
   */
  async #commitDecisionRow(): Promise<void> {
    const held = this.plan.decisionRow!;
    try {
      await this.#held!.commitWithDecision();
      return;
    } catch (error) {
      if (!isOutcomeUnknown(error)) throw error;
      const decision = await held.participant.decideAbort(this.deps.nodeId, this.globalId).catch(() => undefined);
      if (decision === 'commit') return;
      if (decision === 'abort') throw error;
      await Promise.allSettled(this.#branches.map((b) => b.release()));
      this.deps.counters.inDoubt += 1;
      throw new DistributedTransactionError(this.globalId, 'in-doubt', `${held.record.adapterId} did not confirm the commit that holds the decision, and its decision row could not be read; every other participant is prepared and recovery will commit or roll them back according to that row`, { cause: error });
    }
  }

  async #prepareAll(): Promise<void> {
    await this.#logged;
    await this.step('logged');
    if (Date.now() > this.deadline) {
      throw new TimeoutError('operation', `the distributed transaction passed its timeout (${this.settings.timeoutMs} ms) before every branch was prepared`, { timeoutMs: this.settings.timeoutMs });
    }
    const results = await Promise.allSettled(this.#branches.map(async (b) => {
      await b.prepare();
      await this.step(`prepared:${b.branch}`);
    }));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.#prepared = true;
  }

  /** Rolls back every branch; what cannot be rolled back now (a lost connection) is left to recovery (no decision = abort). */
  async #abort(reason: unknown): Promise<void> {
    const logged = await this.#logged?.then(() => true, () => false);
    if (logged) {
      // Durable, so that recovery rolls back what is left at once instead of waiting for the grace period.
      await this.deps.log.decide(this.globalId, 'abort', ['active', 'last-resource']).catch(() => undefined);
      this.deps.logger.log('info', 'distributed transaction decided', { operation: 'transaction.distributed', globalId: this.globalId, decision: 'abort' });
    }
    const results = await Promise.allSettled([...this.#branches.map((b) => b.rollback()), ...(this.#held ? [this.#held.rollback()] : [])]);
    const left = results.filter((r) => r.status === 'rejected').length;
    if (logged) {
      if (left === 0) await this.deps.log.finish(this.globalId, 'aborted').catch(() => undefined);
      else await this.deps.log.setOutcome(this.globalId, 'aborted').catch(() => undefined);
    }
    // An `abort` row (written when a lost commit answer was settled, or by recovery) is no longer needed either.
    if (left === 0 && this.plan.decisionRow) this.deps.decisionRows.forgetSoon(this.plan.decisionRow.participant, this.globalId);
    this.deps.logger.log('debug', 'distributed transaction aborted', { globalId: this.globalId, reason: messageOf(reason), leftToRecovery: left, prepared: this.#prepared });
  }

  #context(lastResource: { adapterId: string; context: TransactionContext } | undefined): DistributedContext {
    const byId = new Map<string, TransactionContext>(this.#branches.map((b) => [b.adapterId, b.context]));
    if (this.#held) byId.set(this.#held.adapterId, this.#held.context);
    if (lastResource) byId.set(lastResource.adapterId, lastResource.context);
    // In the caller's order, whatever role each participant plays.
    const contexts = new Map(this.plan.records.filter((r) => byId.has(r.adapterId)).map((r) => [r.adapterId, byId.get(r.adapterId)!]));
    return {
      globalId: this.globalId,
      on: <C extends TransactionContext = TransactionContext>(adapterId: string): C => {
        const context = contexts.get(adapterId);
        if (!context) {
          throw new UsageError('adapterId', `"${adapterId}" is not a participant of this distributed transaction; participants: ${[...contexts.keys()].join(', ')}`);
        }
        return context as C;
      },
    };
  }
}

function isOutcomeUnknown(error: unknown): boolean {
  return error instanceof ConnectionError || error instanceof TimeoutError || (error instanceof TransactionError && /outcome is unknown/.test(error.message));
}

export function messageOf(error: unknown): string {
  if (error instanceof DatakeepError || error instanceof Error) return error.message;
  return String(error);
}
