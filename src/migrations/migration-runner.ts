import { isSqlAdapter } from '../adapters/database-adapter.js';
import { defaultActor } from '../state/state-store.js';
import { LockError, MigrationError } from '../errors/index.js';
import { DATAKEEP_VERSION } from '../util/datakeep-version.js';
import { logOperation } from '../util/log-operation.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { analyseMigrations, type MigrationAnalysis } from './analyse-migrations.js';
import { compareVersions } from './discover-migrations.js';
import { lintMigrationSql } from './lint-migration-sql.js';
import { loadMigrationModule } from './load-migration-module.js';
import type { MigrationProgress } from './migration-events.js';
import type { MigrationTarget } from './migration-target.js';
import type { ExecutedMigration, MigrationContext, MigrationFile, MigrationModule, NewHistoryRecord } from './migration-types.js';

export interface RunOptions {
  readonly validateChecksums: boolean;
  readonly allowOutOfOrder: boolean;
  readonly lockTimeout: number;
  readonly progress: MigrationProgress;
  /** Lock waits and every migration's start, end and failure (with version and durationMs). Default: silent. */
  readonly logger?: Logger;
}

/** Runs `fn` while holding the target's migration lock, with its history table ensured. */
export async function withMigrationLock<T>(target: MigrationTarget, options: RunOptions, fn: (lock: { assertHeld(): void }) => Promise<T>): Promise<T> {
  const lock = target.lock();
  options.progress({ type: 'lock-wait', database: target.database });
  await asMigrationError(target, () => logOperation(options.logger ?? silentLogger, 'migration.lock-wait', { database: target.database, lock: lock.kind }, () => lock.acquire(options.lockTimeout)));
  try {
    await target.history.ensure();
    return await fn({ assertHeld: () => void asMigrationErrorSync(target, () => lock.assertHeld()) });
  } finally {
    await lock.release();
  }
}

/** Lock failures as the migration errors callers know (`lock-timeout`, `lock-lost`), with the lock's message. */
function toMigrationError(target: MigrationTarget, error: unknown): unknown {
  if (!(error instanceof LockError)) return error;
  const message = error.message.startsWith(`${error.resource}: `) ? error.message.slice(error.resource.length + 2) : error.message;
  return new MigrationError(error.reason === 'timeout' ? 'lock-timeout' : 'lock-lost', target.database, message, { cause: error });
}

async function asMigrationError(target: MigrationTarget, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    throw toMigrationError(target, error);
  }
}

function asMigrationErrorSync(target: MigrationTarget, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    throw toMigrationError(target, error);
  }
}

/** Applies the pending migrations of one database. Everything that could refuse the run is checked before the first migration. */
export async function migrateTarget(target: MigrationTarget, options: RunOptions): Promise<{ executed: ExecutedMigration[]; analysis: MigrationAnalysis }> {
  return withMigrationLock(target, options, async (lock) => {
    const analysis = analyseMigrations(target.database, target.files, await target.history.records());
    preflight(target, analysis, options);
    // A runner that died mid-migration left a `running` record; preflight allowed only those whose transaction
    // rolled back with the session, which are therefore safe to run again. Record what happened first.
    for (const record of analysis.interrupted) {
      await target.history.append({ ...record, status: 'failed', finishedAt: new Date(), durationMs: null, error: 'interrupted: the runner stopped while this migration ran; its transaction was rolled back' });
    }
    const executed: ExecutedMigration[] = [];
    for (const file of [...analysis.pending, ...analysis.repeatable]) {
      lock.assertHeld();
      executed.push(await runOne(target, file, 'up', options));
    }
    return { executed, analysis };
  });
}

function preflight(target: MigrationTarget, analysis: MigrationAnalysis, options: RunOptions): void {
  const db = target.database;
  if (options.validateChecksums) {
    const changed = analysis.issues.filter((i) => i.kind === 'changed' || i.kind === 'missing');
    if (changed.length) {
      throw new MigrationError('checksum-mismatch', db, `validation failed before anything ran: ${changed.map((i) => i.message).join('; ')}. Restore the original files, or accept the change with \`datakeep migrate repair\` after reviewing it`);
    }
  }
  const files = new Map(target.files.map((f) => [f.version, f]));
  for (const record of analysis.interrupted) {
    const file = files.get(record.version);
    if (!file || !runsInTransaction(target, file)) {
      throw new MigrationError('interrupted', db, `${record.version}_${record.name} was interrupted while running ${file ? 'outside a transaction' : '(its file is missing)'}, so its effects are unknown. Inspect the database, then run \`datakeep migrate repair ${record.version} --applied\` or \`--rolled-back\``, { version: record.version });
    }
  }
  if (analysis.outOfOrder.length && !options.allowOutOfOrder) {
    const first = analysis.outOfOrder[0]!;
    throw new MigrationError('out-of-order', db, `${first.file.version}_${first.file.name} is pending but older than the newest applied migration ${first.newestApplied}${analysis.outOfOrder.length > 1 ? ` (and ${analysis.outOfOrder.length - 1} more)` : ''}; it was probably merged from a branch. Apply it anyway with allowOutOfOrder: true (CLI --allow-out-of-order), or give it a newer version`, { version: first.file.version });
  }
  for (const file of [...analysis.pending, ...analysis.repeatable]) {
    if (!target.sql && file.kind !== 'module') {
      throw new MigrationError('invalid-state', db, `${file.path} is a SQL migration, but ${db} is a ${target.adapter.type} database; write it as a .ts or .js module exporting up(ctx)`, { version: file.version });
    }
    if (file.up && file.up.transaction) {
      const lint = lintMigrationSql(file.up.sql);
      if (lint.cannotRunInTransaction) {
        throw new MigrationError('not-allowed-in-transaction', db, `${file.path} runs ${lint.cannotRunInTransaction}, which cannot run inside a transaction; nothing was run. Put it in its own migration whose first line is "-- migrate:up transaction:false"`, { version: file.version });
      }
    }
  }
}

function runsInTransaction(target: MigrationTarget, file: MigrationFile, direction: 'up' | 'down' = 'up'): boolean {
  if (!target.sql || !target.adapter.capabilities.transactions) return false;
  const part = direction === 'up' ? file.up : file.down;
  return part ? part.transaction : true;
}

/** Runs one migration in one direction and appends its history records. */
export async function runOne(target: MigrationTarget, file: MigrationFile, direction: 'up' | 'down', options: RunOptions): Promise<ExecutedMigration> {
  const { database, adapter, history } = target;
  const startedAt = new Date();
  const started = performance.now();
  const base: Omit<NewHistoryRecord, 'status' | 'finishedAt' | 'durationMs' | 'error'> = {
    version: file.version, name: file.name, kind: file.kind, checksum: file.checksum, startedAt, appliedBy: defaultActor(), datakeepVersion: DATAKEEP_VERSION,
  };
  const finalStatus = direction === 'up' ? 'applied' : 'rolled_back';
  options.progress({ type: 'start', database, version: file.version, name: file.name, direction });
  options.logger?.log('info', 'migration.apply started', { operation: 'migration.apply', database, version: file.version, name: file.name, direction });
  await history.append({ ...base, status: 'running', finishedAt: null, durationMs: null, error: null });
  const mod: MigrationModule | undefined = file.kind === 'module' ? await loadMigrationModule(file.path, file.checksum) : undefined;
  const finished = () => ({ finishedAt: new Date(), durationMs: Math.round(performance.now() - started) });
  const body = async (tx: MigrationContext['tx']) => {
    if (mod) {
      const fn = direction === 'up' ? mod.up : mod.down;
      if (!fn) throw new MigrationError('missing-down', database, `${file.path} has no down() export`, { version: file.version });
      await fn({ adapter, tx, version: file.version, log: (message) => options.progress({ type: 'start', database, version: file.version, name: `${file.name}: ${message}`, direction }) });
    } else {
      const part = direction === 'up' ? file.up : file.down;
      if (!part) throw new MigrationError('missing-down', database, `${file.path} has no "-- migrate:down" section`, { version: file.version });
      if (tx) await tx.script(part.sql);
      else if (isSqlAdapter(adapter)) await adapter.script(part.sql);
      else throw new MigrationError('invalid-state', database, `${file.path}: ${adapter.type} does not run SQL`, { version: file.version });
    }
  };
  const transactional = mod ? target.sql && adapter.capabilities.transactions && mod.transaction !== false : runsInTransaction(target, file, direction);
  try {
    if (transactional) {
      // The final history record commits with the migration's own changes: both or neither.
      await adapter.transaction(async (tx) => {
        if (target.transactionPreamble !== undefined) await tx.script(target.transactionPreamble);
        await body(tx);
        await history.append({ ...base, status: finalStatus, ...finished(), error: null });
      });
    } else {
      await body(undefined);
      await history.append({ ...base, status: finalStatus, ...finished(), error: null });
    }
  } catch (error) {
    const { durationMs } = finished();
    const message = error instanceof Error ? error.message : String(error);
    await history.append({ ...base, status: 'failed', finishedAt: new Date(), durationMs, error: `${direction}: ${message}`.slice(0, 4000) }).catch(() => undefined);
    options.progress({ type: 'failed', database, version: file.version, name: file.name, direction, durationMs, error: message });
    options.logger?.log('error', 'migration.apply failed', { operation: 'migration.apply', database, version: file.version, name: file.name, direction, durationMs, transactional, error });
    throw new MigrationError('failed', database, `${file.version}_${file.name} (${direction}) failed${transactional ? ' and was rolled back' : ' outside a transaction: check what it changed'}: ${message}. Later migrations were not run; fix the file and run migrate again`, { version: file.version, cause: error });
  }
  const durationMs = Math.round(performance.now() - started);
  options.progress({ type: 'done', database, version: file.version, name: file.name, direction, durationMs });
  options.logger?.log('info', 'migration.apply finished', { operation: 'migration.apply', database, version: file.version, name: file.name, direction, durationMs });
  return { database, version: file.version, name: file.name, kind: file.kind, durationMs };
}

/** The applied migrations newer than `version`, newest first, after checking every one can be reverted. */
export function rollbackPlan(target: MigrationTarget, analysis: MigrationAnalysis, version: string): MigrationFile[] {
  const db = target.database;
  const files = new Map(target.files.map((f) => [f.version, f]));
  const known = version === '0' || files.has(version) || analysis.latest.has(version);
  if (!/^\d+$/.test(version) || !known) {
    throw new MigrationError('unknown-version', db, `"${version}" is not a known migration version; give the version to keep (it stays applied), or 0 to revert everything`, { version });
  }
  const toRevert = [...analysis.latest.values()]
    .filter((r) => r.status === 'applied' && r.kind !== 'baseline' && r.kind !== 'repeatable' && compareVersions(r.version, version) > 0)
    .sort((a, b) => compareVersions(b.version, a.version));
  return toRevert.map((record) => {
    const file = files.get(record.version);
    if (!file) throw new MigrationError('missing-down', db, `${record.version}_${record.name} must be reverted but its file is missing; nothing was rolled back`, { version: record.version });
    if (!file.hasDown) throw new MigrationError('missing-down', db, `${file.path} has no down part, so the rollback to ${version} stops before anything runs. Add a "-- migrate:down" section (or a down() export), or roll back to ${record.version}`, { version: record.version });
    return file;
  });
}

export async function rollbackTarget(target: MigrationTarget, version: string, options: RunOptions): Promise<ExecutedMigration[]> {
  return withMigrationLock(target, options, async (lock) => {
    const analysis = analyseMigrations(target.database, target.files, await target.history.records());
    const plan = rollbackPlan(target, analysis, version);
    const done: ExecutedMigration[] = [];
    for (const file of plan) {
      lock.assertHeld();
      done.push(await runOne(target, file, 'down', options));
    }
    return done;
  });
}
