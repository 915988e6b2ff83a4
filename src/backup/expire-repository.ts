import type { PruneResult, Repository } from '../repository/repository-types.js';
import type { BackupDriver } from './backup-driver.js';
import type { ExpireResult } from './backup-types.js';
import { decideRetention, describeRecoveryWindow, type RetentionPolicy } from './retention-policy.js';

export interface ExpireInput {
  readonly database: string;
  readonly repository: Repository;
  readonly driver: BackupDriver;
  readonly retention: RetentionPolicy;
  /** Only report what would be expired. */
  readonly dryRun: boolean;
  /** Reclaim the expired backups' chunks at once (otherwise a later prune does). */
  readonly prune: boolean;
  readonly log: (level: 'info' | 'warn', message: string) => void;
  readonly audit: (action: string, target: string, dryRun: boolean, details: Record<string, unknown>) => Promise<void>;
}

/**
 * Applies a retention policy to one database's repository under its exclusive lock: decides what to keep (the
 * calendar counts and the recovery window), deletes the rest and the log only they needed, and prunes the chunks.
 */
export async function expireRepository(input: ExpireInput): Promise<ExpireResult> {
const { database, repository, driver, retention, dryRun, prune } = input;
  const lock = dryRun ? undefined : await repository.lock('exclusive', 'expire');
  try {
    const summaries = (await repository.list()).filter((s) => s.database === database);
    const decision = decideRetention(summaries.map((s) => ({
      backupId: s.backupId, type: s.type, parent: s.parent, finishedAt: new Date(s.finishedAt),
      firstWal: (s.metadata.walSegments as string[] | undefined)?.[0] ?? (typeof s.metadata.firstLog === 'string' ? s.metadata.firstLog : undefined), // firstLog: a roll-forward's first log item when the backup needs none (MariaDB)
    })), retention);
    // Snapshots with no log after them (logical backups, PGlite) restore to their own instants only: a "PITR window"
    // that is "short" would tell their user to wait for history that will never come.
    const hasLog = summaries.some((s) => Array.isArray(s.metadata.walSegments) || typeof s.metadata.firstLog === 'string');
    const description = hasLog ? describeRecoveryWindow(decision) : `restorable: the ${decision.keep.size} kept snapshot(s), each to its own instant (no log is archived for them, so nothing in between)`;
    const window = { from: decision.window.from?.toISOString(), requestedMs: decision.window.requested, short: hasLog && decision.windowShort, description };
    // Retention never shortens the window (it keeps the newest backup at or before its start and all after), so a
    // short one means a young repository: worth saying, not worth a warning on every backup of its first day.
    if (!dryRun) input.log('info', `${database}: retention kept ${decision.keep.size} backup(s), expired ${decision.expire.length}; ${window.description}`);
    let walRemoved = 0;
    let pruned: PruneResult | undefined;
    if (!dryRun) {
      for (const id of decision.expire) await repository.deleteBackup(id);
      if (decision.walExpireBefore) walRemoved = await driver.expireLog(repository, decision.walExpireBefore);
    }
    if (prune && !dryRun && decision.expire.length > 0) pruned = await repository.prune();
    await input.audit('backup.expire', database, dryRun, { expired: decision.expire, walRemoved, window: window.description });
    return { database, dryRun, expired: decision.expire, kept: [...decision.keep].map(([backupId, reasons]) => ({ backupId, reasons })), walRemoved, prune: pruned, window };
  } finally {
    await lock?.release();
  }
}

/** What the operation log records of an expiry. */
export function expireFields(result: ExpireResult): Record<string, unknown> {
  return { dryRun: result.dryRun, expired: result.expired, kept: result.kept.length, walRemoved: result.walRemoved, window: result.window.description };
}
