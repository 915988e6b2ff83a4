import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { DataLifecycleError } from '../errors/index.js';
import type { Repository } from '../repository/repository-types.js';
import { sleep } from '../resilience/backoff.js';
import type { Logger } from '../util/logger.js';
import { listArchives, readArchiveLines, writeArchive } from './archive-store.js';
import type { LifecycleLedger } from './lifecycle-ledger.js';
import type { BoundPolicy, LifecycleDriver, LifecycleRow, TargetInspection } from './lifecycle-part.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';
import type { LifecycleOutcome, LifecycleProgress, LifecycleRunResult } from './lifecycle-types.js';
import { windowState } from './maintenance-window.js';
import { BatchPacer } from './batch-pacer.js';

/** How many times a batch that could not get its locks is tried again (with growing pauses) before the run stops. */
const CONTENDED_ATTEMPTS = 5;
/**
 * The least time between two partition detach-and-drops. Each one slows the application's next statements on the
 * table by a few milliseconds (plans rebuilt after the invalidation); a second apart, they never bunch up.
 */
const PARTITION_PAUSE_MS = 1000;

export interface PolicyRunContext {
  readonly adapter: DatabaseAdapter;
  readonly driver: LifecycleDriver;
  readonly engine: string;
  readonly policy: LifecyclePolicy;
  /** The archive repository (policies whose action is 'archive'), and its path for the ledger. */
  readonly archive: { readonly repository: Repository; readonly path: string } | undefined;
  readonly ledger: LifecycleLedger;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: LifecycleProgress) => void;
  readonly now?: Date;
}

/** The policy as this run applies it: one cutoff for the whole run. */
export function bindPolicy(policy: LifecyclePolicy, now: Date): BoundPolicy {
  return { ...policy, cutoff: policy.age ? new Date(now.getTime() - policy.age.days * 86_400_000) : undefined };
}

/**
 * One run of one policy: first what a killed run left (archived rows not yet deleted, detached partitions not yet
 * dropped), then whole expired partitions, then the remaining rows in key-ordered batches; each batch is archived and
 * verified first when the policy archives, then removed in one short transaction with a lock timeout. Batches are
 * paced by how long they take and by replica lag, and the run stops at its window's end, resuming next time.
 * Returns what happened; throws only for what must stop it before it starts (bad target, would remove everything).
 */
export async function runLifecyclePolicy(ctx: PolicyRunContext): Promise<LifecycleRunResult> {
  const started = performance.now();
  const policy = bindPolicy(ctx.policy, ctx.now ?? new Date());
  const database = ctx.adapter.id;
  const tally = { rowsDeleted: 0, rowsArchived: 0, batches: 0, longestLockWaitMs: 0, lagWaitMs: 0, recovered: 0 };
  const archives: string[] = [];
  const partitionsDropped: string[] = [];
  const finish = (outcome: LifecycleOutcome, error?: unknown): LifecycleRunResult => ({
    policy: policy.name, database, dryRun: false, outcome, ...tally, archives, partitionsDropped,
    durationMs: Math.round(performance.now() - started),
    error: error === undefined ? undefined : error instanceof Error ? error.message : String(error),
  });
  const report = (phase: LifecycleProgress['phase'], total: number) => {
    const done = tally.rowsDeleted;
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    ctx.onProgress?.({ policy: policy.name, phase, rowsDone: done, rowsTotal: total, rowsPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.max(0, Math.round((total - done) / rate)) : undefined });
  };

  report('inspecting', 0);
  const inspection = await ctx.driver.inspect(ctx.adapter, policy);
  try {
    report('recovering', 0);
    tally.recovered = await finishPendingWork(ctx, policy, inspection, tally);
    // A full count would scan the whole table in the run's own window: drivers that can say it cheaper do.
    const survey = ctx.driver.survey
      ? await ctx.driver.survey(ctx.adapter, policy, inspection)
      : await ctx.driver.count(ctx.adapter, policy, inspection).then((c) => ({ matchesAll: c.rows > 0 && c.rows === c.total, total: c.total, rowsEstimate: c.rows }));
    if (survey.matchesAll && !policy.allowAll) {
      throw new DataLifecycleError('would-remove-all', policy.name, `every one of the ${survey.total} rows of ${inspection.target} matches, so the run would empty it; nothing was removed`, {});
    }
    const counted = { rows: survey.rowsEstimate };
    const pacer = new BatchPacer(policy.pauseMs);
    const stopReason = (): LifecycleOutcome | undefined => {
      if (ctx.signal?.aborted) return 'stopped';
      return windowState(policy.window, policy.timeZone).open ? undefined : 'window-end';
    };

    report('partitions', counted.rows);
    for (const partition of policy.partitions ? (inspection.partitions ?? []).filter((p) => p.expired) : []) {
      const stop = stopReason();
      if (stop) return finish(stop);
      const partitionStarted = performance.now();
      if (policy.action === 'archive') {
        // Archive the partition's rows batch by batch (each verified, then deleted), then drop the emptied partition.
        const outcome = await removeInBatches(ctx, { ...policy, partition: partition.name }, inspection, tally, archives, pacer, stopReason, () => report('batches', counted.rows));
        if (outcome !== 'done') return finish(outcome);
      }
      const detached = await ctx.driver.detachPartition!(ctx.adapter, inspection, partition, policy.lockTimeoutMs);
      await ctx.ledger.open({ id: `partition:${database}:${detached}`, kind: 'detached-partition', policy: policy.name, database, repository: '', rows: 0 });
      await ctx.driver.dropTable!(ctx.adapter, detached, policy.lockTimeoutMs);
      await ctx.ledger.close(`partition:${database}:${detached}`, 0);
      partitionsDropped.push(partition.name);
      ctx.logger.log('info', 'lifecycle dropped an expired partition', { policy: policy.name, database, partition: partition.name });
      // Each detach and drop invalidates the table's cached plans in every session: paced like batches (and at least
      // a second apart), they do not pile up on the application's statements.
      await pacer.pause(Math.max(PARTITION_PAUSE_MS, performance.now() - partitionStarted), stopReason);
    }

    report('batches', counted.rows);
    const outcome = await removeInBatches(ctx, policy, inspection, tally, archives, pacer, stopReason, () => report('batches', counted.rows));
    report('done', counted.rows);
    return finish(outcome);
  } catch (error) {
    if (error instanceof DataLifecycleError && error.reason === 'would-remove-all') throw error;
    ctx.logger.log('error', 'lifecycle run failed', { policy: policy.name, database, error: error instanceof Error ? error.message : String(error) });
    return finish(error instanceof DataLifecycleError && error.reason === 'contended' ? 'contended' : 'failed', error);
  }
}

interface Tally {
  rowsDeleted: number;
  rowsArchived: number;
  batches: number;
  longestLockWaitMs: number;
  lagWaitMs: number;
  recovered: number;
}

/** Key-ordered batches until no row matches, the window ends, the caller stops, or locks stay contended. */
async function removeInBatches(
  ctx: PolicyRunContext,
  policy: BoundPolicy,
  inspection: TargetInspection,
  tally: Tally,
  archives: string[],
  pacer: BatchPacer,
  stopReason: () => LifecycleOutcome | undefined,
  progress: () => void,
): Promise<LifecycleOutcome> {
  let after: readonly unknown[] | undefined;
  for (;;) {
    const stop = stopReason();
    if (stop) return stop;
    const lagged = await waitForReplicas(ctx, policy, stopReason);
    tally.lagWaitMs += lagged.waitedMs;
    if (lagged.stop) return lagged.stop;
    const batchStarted = performance.now();
    const batch = await ctx.driver.nextBatch(ctx.adapter, policy, inspection, after, policy.batchSize);
    if (batch.rows.length === 0) return 'done';
    after = batch.next ?? batch.rows.at(-1)!.key;
    let archiveId: string | undefined;
    if (policy.action === 'archive') {
      const archive = requireArchive(ctx);
      const summary = await writeArchive(archive.repository, { policy: policy.name, database: ctx.adapter.id, engine: ctx.engine, inspection, rows: batch.rows });
      archiveId = summary.archiveId;
      await ctx.ledger.open({ id: archiveId, kind: 'archive', policy: policy.name, database: ctx.adapter.id, repository: archive.path, rows: batch.rows.length });
      archives.push(archiveId);
      tally.rowsArchived += batch.rows.length;
    }
    const removed = await removeContended(ctx, policy, inspection, batch.rows, archiveId !== undefined, pacer);
    if (removed === undefined) return 'contended';
    if (archiveId !== undefined) await ctx.ledger.close(archiveId, removed.removed);
    tally.rowsDeleted += removed.removed;
    tally.batches += 1;
    tally.longestLockWaitMs = Math.max(tally.longestLockWaitMs, Math.round(removed.lockWaitMs));
    progress();
    await pacer.pause(performance.now() - batchStarted, stopReason);
  }
}

/** A batch's removal, tried again with growing pauses while its locks are contended; undefined when it gave up. */
async function removeContended(ctx: PolicyRunContext, policy: BoundPolicy, inspection: TargetInspection, rows: readonly LifecycleRow[], exact: boolean, pacer: BatchPacer): Promise<{ removed: number; lockWaitMs: number } | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await ctx.driver.remove(ctx.adapter, policy, inspection, rows, { lockTimeoutMs: policy.lockTimeoutMs, exact });
    } catch (error) {
      if (!(error instanceof DataLifecycleError && error.reason === 'contended')) throw error;
      ctx.logger.log('warn', 'lifecycle batch could not get its locks; trying again', { policy: policy.name, attempt, error: error.message });
      if (attempt >= CONTENDED_ATTEMPTS) return undefined;
      pacer.slowDown();
      await sleep(Math.min(30_000, policy.lockTimeoutMs * 2 ** attempt));
    }
  }
}

/** Waits while a replica lags more than the policy allows; checks about once a second. */
async function waitForReplicas(ctx: PolicyRunContext, policy: BoundPolicy, stopReason: () => LifecycleOutcome | undefined): Promise<{ waitedMs: number; stop: LifecycleOutcome | undefined }> {
  if (!ctx.driver.pressure) return { waitedMs: 0, stop: undefined };
  const started = performance.now();
  for (;;) {
    const { replicaLagSeconds } = await ctx.driver.pressure(ctx.adapter);
    if (replicaLagSeconds === undefined || replicaLagSeconds <= policy.maxReplicaLagSeconds) return { waitedMs: Math.round(performance.now() - started), stop: undefined };
    const stop = stopReason();
    if (stop) return { waitedMs: Math.round(performance.now() - started), stop };
    ctx.onProgress?.({ policy: policy.name, phase: 'waiting-for-replicas', rowsDone: 0, rowsTotal: 0, rowsPerSecond: 0, etaSeconds: undefined });
    await sleep(1000);
  }
}

/**
 * What a run killed half-way left: archives whose rows were not confirmed deleted (also archives it wrote but could
 * not record in the ledger), and detached partitions not yet dropped. Archived rows are deleted only where the table
 * still holds exactly the archived record; a row changed since stays, and later batches archive it again.
 */
async function finishPendingWork(ctx: PolicyRunContext, policy: BoundPolicy, inspection: TargetInspection, tally: Tally): Promise<number> {
  let finished = 0;
  if (ctx.archive) {
    const known = await ctx.ledger.knownArchives(policy.name);
    for (const summary of await listArchives(ctx.archive.repository)) {
      if (summary.policy === policy.name && summary.database === ctx.adapter.id && !known.has(summary.archiveId)) {
        await ctx.ledger.open({ id: summary.archiveId, kind: 'archive', policy: policy.name, database: ctx.adapter.id, repository: ctx.archive.path, rows: summary.rows });
      }
    }
  }
  for (const work of await ctx.ledger.pending(policy.name)) {
    if (work.kind === 'detached-partition') {
      const table = work.id.slice(`partition:${ctx.adapter.id}:`.length);
      await ctx.driver.dropTable!(ctx.adapter, table, policy.lockTimeoutMs);
      await ctx.ledger.close(work.id, 0);
      finished += 1;
      continue;
    }
    const archive = requireArchive(ctx);
    let removed = 0;
    let rows: LifecycleRow[] = [];
    const flush = async () => {
      if (rows.length === 0) return;
      const result = await ctx.driver.remove(ctx.adapter, policy, inspection, rows, { lockTimeoutMs: policy.lockTimeoutMs, exact: true });
      removed += result.removed;
      tally.longestLockWaitMs = Math.max(tally.longestLockWaitMs, Math.round(result.lockWaitMs));
      rows = [];
    };
    for await (const line of readArchiveLines(archive.repository, work.id)) {
      rows.push({ key: line.k, record: line.r });
      if (rows.length >= policy.batchSize) await flush();
    }
    await flush();
    await ctx.ledger.close(work.id, removed);
    tally.rowsDeleted += removed;
    finished += 1;
    ctx.logger.log('info', 'lifecycle finished an archive a previous run left', { policy: policy.name, archive: work.id, rowsDeleted: removed });
  }
  return finished;
}

function requireArchive(ctx: PolicyRunContext): NonNullable<PolicyRunContext['archive']> {
  if (!ctx.archive) throw new DataLifecycleError('archive-not-found', ctx.policy.name, 'the policy archives, but no archive repository was opened (archival.destination)');
  return ctx.archive;
}
