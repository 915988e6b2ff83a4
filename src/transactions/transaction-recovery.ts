import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { CommitMarkableParticipant } from './commit-markable.js';
import type { DecisionRowCleaner } from './decision-row-cleaner.js';
import type { Logger } from '../util/logger.js';
import type { CoordinatorLog, LogRecord } from './coordinator-log.js';
import { markerKey, messageOf } from './distributed-transaction.js';
import type { LastResource } from './last-resource.js';
import { commitMarkableFor, lastResourceFor, xaParticipantFor } from './participant-factory.js';
import { scanPrepared } from './prepared-scan.js';
import type { Decision, PreparedBranch, RecoveryReport } from './transaction-types.js';
import type { XaParticipant } from './xa-participant.js';

export interface RecoveryDeps {
  readonly nodeId: string;
  readonly log: CoordinatorLog;
  readonly live: ReadonlySet<string>;
  readonly logger: Logger;
  readonly adapters: () => readonly DatabaseAdapter[];
  readonly graceMs: number;
  readonly decisionRows: DecisionRowCleaner;
}

/** Decision rows left behind (their removal lost) are swept once this old and their transaction is over. */
const LEFTOVER_AGE_MS = 10 * 60_000;

interface PassContext {
  participants: Map<string, XaParticipant>;
  lastResources: Map<string, LastResource>;
  holders: Map<string, CommitMarkableParticipant>;
  unreachable: Set<string>;
  report: Report;
  next: Set<string>;
}

interface FoundBranch {
  readonly participant: XaParticipant;
  readonly prepared: PreparedBranch;
}

interface Report {
  committed: string[];
  rolledBack: string[];
  pending: string[];
  deferred: string[];
  errors: string[];
}

/**
 * Reconciles the branches prepared on the participants (pg_prepared_xacts, XA RECOVER; only ids carrying this node's
 * id) with the coordinator log:
 * - a recorded commit decision is finished with COMMIT PREPARED / XA COMMIT, an abort decision with ROLLBACK;
 * - a last-resource transaction is decided by its marker: present means commit, absent (after the grace period) abort;
 * - a transaction decided by a decision row (its branches' ids name the database that holds it; so does the log) is
 *   decided by that row: `commit` commits, `abort` rolls back, none (after the grace period and two passes) is
 *   decided as abort by inserting an `abort` row, which waits for a commit of that row still in flight;
 * - no decision: rolled back once it is older than the grace period AND was already undecided in the previous pass
 *   (two passes, so that a transaction between its prepare and its decision is not raced); the abort is a
 *   compare-and-set in the log, so a live coordinator that decides at the same moment either wins or learns it lost;
 * - prepared branches with no log record at all: presumed abort, under the same two-pass rule.
 * Transactions running in this process are skipped. Running it again is always safe.
 */
export class TransactionRecovery {
  #candidates = new Set<string>();
  readonly #firstSeen = new Map<string, number>();
  #passes = 0;

  constructor(private readonly deps: RecoveryDeps) {}

  get passes(): number {
    return this.#passes;
  }

  async pass(): Promise<RecoveryReport> {
    const { deps } = this;
    const started = performance.now();
    this.#passes += 1;
    const report: Report = { committed: [], rolledBack: [], pending: [], deferred: [], errors: [] };
    const adapters = deps.adapters();
    const participants = new Map<string, XaParticipant>();
    const lastResources = new Map<string, LastResource>();
    const holders = new Map<string, CommitMarkableParticipant>();
    for (const adapter of adapters) {
      const xa = xaParticipantFor(adapter);
      if (xa) participants.set(adapter.id, xa);
      const lr = lastResourceFor(adapter);
      if (lr) lastResources.set(adapter.id, lr);
      const holder = commitMarkableFor(adapter);
      if (holder) holders.set(adapter.id, holder);
    }
    const found = new Map<string, FoundBranch[]>();
    const scan = await scanPrepared(adapters);
    const unreachable = new Set(scan.unreachable.keys());
    for (const [adapterId, reason] of scan.unreachable) report.errors.push(`${adapterId}: cannot list prepared transactions: ${reason}`);
    for (const branch of scan.branches) {
      const { prepared } = branch;
      if (prepared.nodeId !== deps.nodeId || prepared.globalId === undefined) continue;
      const list = found.get(prepared.globalId) ?? [];
      list.push(branch);
      found.set(prepared.globalId, list);
    }

    const open = await deps.log.open(deps.nodeId);
    const records = new Map(open.map((r) => [r.globalId, r]));
    const unlogged = [...found.keys()].filter((id) => !records.has(id));
    for (const [id, record] of await deps.log.get(unlogged)) records.set(id, record);

    const next = new Set<string>();
    const ids = new Set([...records.keys(), ...found.keys()]);
    for (const id of ids) {
      if (deps.live.has(id)) continue;
      if (!this.#firstSeen.has(id)) this.#firstSeen.set(id, Date.now());
      try {
        await this.#reconcile(id, records.get(id), found.get(id) ?? [], { participants, lastResources, holders, unreachable, report, next });
      } catch (error) {
        report.pending.push(id);
        report.errors.push(`${id}: ${messageOf(error)}`);
      }
    }
    this.#candidates = next;
    await this.#sweepDecisionRows(holders, ids, unreachable, report);
    for (const id of this.#firstSeen.keys()) if (!ids.has(id)) this.#firstSeen.delete(id);
    if (this.#passes % 50 === 1) await deps.log.prune(30).catch(() => undefined);
    const durationMs = Math.round(performance.now() - started);
    if (report.committed.length || report.rolledBack.length || report.errors.length) {
      deps.logger.log(report.errors.length ? 'warn' : 'info', 'transaction recovery pass', { ...report, operation: 'transaction.recovery', pass: this.#passes, durationMs });
    } else {
      // Every recoveryInterval (30 s): a pass that found nothing to do is debug, not info.
      deps.logger.log('debug', 'transaction recovery pass', { operation: 'transaction.recovery', pass: this.#passes, pending: report.pending.length, deferred: report.deferred.length, durationMs });
    }
    return report;
  }

  async #reconcile(id: string, record: LogRecord | undefined, branches: FoundBranch[], ctx: PassContext): Promise<void> {
    const { deps } = this;
    const { report } = ctx;
    const eligible = (ageMs: number) => {
      if (ageMs >= deps.graceMs && this.#candidates.has(id)) return true;
      ctx.next.add(id);
      report.deferred.push(id);
      return false;
    };
    const unloggedAge = () => {
      const preparedAge = Math.max(0, ...branches.map((b) => (b.prepared.preparedAt ? Date.now() - b.prepared.preparedAt.getTime() : 0)));
      return Math.max(preparedAge, Date.now() - (this.#firstSeen.get(id) ?? Date.now()));
    };

    const holderId = record?.participants.find((p) => p.role === 'decision-row')?.adapterId ?? branches.find((b) => b.prepared.decidedBy !== undefined)?.prepared.decidedBy;
    if (holderId !== undefined) {
      // Decided by a row in the holder's database, never by the log (the log holds no commit decision for it).
      const holder = ctx.holders.get(holderId);
      if (!holder || ctx.unreachable.has(holderId)) {
        report.pending.push(id);
        report.errors.push(`${id}: the database holding its decision, ${holderId}, is ${holder ? 'unreachable' : 'not configured here'}, so its outcome cannot be read`);
        return;
      }
      let decision = (await holder.peek([id])).get(id);
      if (decision === undefined) {
        // A logged abort means the coordinator saw the holder's commit fail or never start: no wait is needed.
        if (record?.decision !== 'abort' && !eligible(record ? record.ageMs : unloggedAge())) return;
        decision = await holder.decideAbort(record?.nodeId ?? deps.nodeId, id);
      }
      await this.#finish(id, record, decision, branches, ctx, holder);
      return;
    }

    if (!record) {
      // Prepared, never logged (or its record was pruned): presumed abort.
      if (!eligible(unloggedAge())) return;
      await this.#finish(id, undefined, 'abort', branches, ctx);
      return;
    }

    let decision: Decision | undefined = record.decision;
    if (decision === undefined && record.state === 'last-resource') {
      const lrRecord = record.participants.find((p) => p.role === 'last-resource');
      const lr = lrRecord ? ctx.lastResources.get(lrRecord.adapterId) : undefined;
      if (!lr) {
        report.pending.push(id);
        report.errors.push(`${id}: its last resource ${lrRecord?.adapterId ?? '(none)'} is not configured here, so its outcome cannot be read`);
        return;
      }
      const committed = await lr.hasMarker(markerKey(record.nodeId, id));
      if (committed) {
        await deps.log.decide(id, 'commit', ['last-resource']);
        decision = 'commit';
      } else {
        if (!eligible(record.stateAgeMs)) return;
        if (!(await deps.log.decide(id, 'abort', ['last-resource']))) {
          report.pending.push(id);
          return;
        }
        decision = 'abort';
      }
    } else if (decision === undefined) {
      if (!eligible(record.ageMs)) return;
      if (!(await deps.log.decide(id, 'abort', ['active']))) {
        report.pending.push(id);
        return;
      }
      decision = 'abort';
    }
    await this.#finish(id, record, decision, branches, ctx);
  }

  async #finish(id: string, record: LogRecord | undefined, decision: Decision, branches: FoundBranch[], ctx: PassContext, holder?: CommitMarkableParticipant): Promise<void> {
    const commit = decision === 'commit';
    let pending = false;
    for (const { participant, prepared } of branches) {
      try {
        const result = await participant.finish({ nodeId: prepared.nodeId!, globalId: id, branch: prepared.branch!, decidedBy: prepared.decidedBy }, commit);
        if (result === 'attached') pending = true;
      } catch (error) {
        pending = true;
        ctx.report.errors.push(`${id}: ${participant.adapterId} branch ${prepared.branch}: ${messageOf(error)}`);
      }
    }
    const missing = (record?.participants ?? []).filter((p) => p.role === 'xa' && (ctx.unreachable.has(p.adapterId) || !ctx.participants.has(p.adapterId)));
    for (const p of missing) {
      if (!ctx.participants.has(p.adapterId)) ctx.report.errors.push(`${id}: participant ${p.adapterId} is not configured here; its branch cannot be checked`);
    }
    if (pending || missing.length > 0) {
      ctx.report.pending.push(id);
      return;
    }
    // Every branch is finished: the decision row has done its work. Without a log record the participants are not
    // known, so the row stays while any database could not be asked (it may hold a branch still prepared).
    if (holder && (record || ctx.unreachable.size === 0)) this.deps.decisionRows.forgetSoon(holder, id);
    if (record) {
      const outcome = commit ? (record.outcome === 'heuristic-mixed' ? 'heuristic-mixed' : 'committed') : 'aborted';
      await this.deps.log.finish(id, outcome);
      const lrRecord = record.participants.find((p) => p.role === 'last-resource');
      const lr = lrRecord ? ctx.lastResources.get(lrRecord.adapterId) : undefined;
      if (lr) await lr.clearMarker(markerKey(record.nodeId, id)).catch(() => undefined);
    }
    (commit ? ctx.report.committed : ctx.report.rolledBack).push(id);
  }

  /**
   * Decision rows whose removal was lost (the coordinator died between marking its record finished and removing the
   * row): removed once old, their transaction not seen in this pass (no branch prepared, no open record), and its
   * record finished, or missing while every database answered.
   */
  async #sweepDecisionRows(holders: Map<string, CommitMarkableParticipant>, seen: ReadonlySet<string>, unreachable: ReadonlySet<string>, report: Report): Promise<void> {
    for (const [adapterId, holder] of holders) {
      if (unreachable.has(adapterId)) continue;
      try {
        const old = (await holder.leftovers(this.deps.nodeId, Math.max(LEFTOVER_AGE_MS, this.deps.graceMs), 500)).filter((id) => !seen.has(id) && !this.deps.live.has(id));
        if (old.length === 0) continue;
        const records = await this.deps.log.get(old);
        const over = old.filter((id) => {
          const record = records.get(id);
          return record ? record.state === 'finished' : unreachable.size === 0;
        });
        if (over.length > 0) await holder.forget(over);
      } catch (error) {
        report.errors.push(`${adapterId}: cannot sweep old decision rows: ${messageOf(error)}`);
      }
    }
  }
}
