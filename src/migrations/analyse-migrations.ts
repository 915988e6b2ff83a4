import { compareMigrations, compareVersions } from './discover-migrations.js';
import { latestByVersion } from './migration-history.js';
import type { HistoryRecord, MigrationFile, MigrationStatusEntry, ValidationIssue } from './migration-types.js';

/** Where one database stands: a pure function of its files and its history, so it is unit-tested without a server. */
export interface MigrationAnalysis {
  readonly database: string;
  /** Versioned files not applied (never run, failed, rolled back, or interrupted), in version order. */
  readonly pending: MigrationFile[];
  /** Repeatable files whose checksum differs from their last applied run (or never run). */
  readonly repeatable: MigrationFile[];
  /** Pending versions older than the newest applied one, each with that newest version. */
  readonly outOfOrder: { file: MigrationFile; newestApplied: string }[];
  /** Latest record `running`: the runner died mid-migration. */
  readonly interrupted: HistoryRecord[];
  readonly issues: ValidationIssue[];
  readonly newestApplied: string | undefined;
  readonly baseline: string | undefined;
  readonly appliedCount: number;
  readonly latest: Map<string, HistoryRecord>;
}

export function analyseMigrations(database: string, files: readonly MigrationFile[], records: readonly HistoryRecord[]): MigrationAnalysis {
  const latest = latestByVersion(records);
  let baseline: string | undefined;
  for (const record of records) {
    if (record.kind === 'baseline' && record.status === 'applied' && (baseline === undefined || compareVersions(record.version, baseline) > 0)) baseline = record.version;
  }
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const issues: ValidationIssue[] = [];
  let newestApplied: string | undefined = baseline;
  let appliedCount = 0;
  for (const record of latest.values()) {
    if (record.status !== 'applied' || record.kind === 'baseline' || record.kind === 'repeatable') continue;
    appliedCount += 1;
    if (newestApplied === undefined || compareVersions(record.version, newestApplied) > 0) newestApplied = record.version;
  }
  const pending: MigrationFile[] = [];
  const repeatable: MigrationFile[] = [];
  const interrupted: HistoryRecord[] = [];
  for (const file of files) {
    const record = latest.get(file.version);
    if (file.kind === 'repeatable') {
      const lastApplied = [...records].reverse().find((r) => r.version === file.version && r.status === 'applied');
      if (!lastApplied || lastApplied.checksum !== file.checksum) repeatable.push(file);
      continue;
    }
    if (baseline !== undefined && compareVersions(file.version, baseline) <= 0 && (!record || record.kind === 'baseline')) continue;
    if (record?.status === 'applied') {
      if (record.checksum !== null && record.checksum !== file.checksum) {
        issues.push({ database, kind: 'changed', version: file.version, name: file.name, message: `${file.path} was changed after it was applied (recorded ${record.checksum}, file ${file.checksum})` });
      }
      continue;
    }
    if (record?.status === 'running') interrupted.push(record);
    pending.push(file);
  }
  for (const record of latest.values()) {
    if (record.status === 'applied' && record.kind !== 'baseline' && !byVersion.has(record.version)) {
      issues.push({ database, kind: 'missing', version: record.version, name: record.name, message: `${record.version}_${record.name} is applied but its file is missing` });
    }
    if (record.status === 'running' && !byVersion.has(record.version)) interrupted.push(record);
  }
  for (const record of interrupted) {
    issues.push({ database, kind: 'interrupted', version: record.version, name: record.name, message: `${record.version}_${record.name} was interrupted while running (started ${record.startedAt.toISOString()} by ${record.appliedBy})` });
  }
  const outOfOrder = newestApplied === undefined ? [] : pending.filter((f) => compareVersions(f.version, newestApplied!) < 0).map((file) => ({ file, newestApplied: newestApplied! }));
  for (const { file, newestApplied: newest } of outOfOrder) {
    issues.push({ database, kind: 'unknown', version: file.version, name: file.name, message: `${file.version}_${file.name} is not applied but is older than the newest applied migration ${newest} (a merged branch?)` });
  }
  return { database, pending, repeatable, outOfOrder, interrupted, issues, newestApplied, baseline, appliedCount, latest };
}

/**
 * One line per known migration (files and history-only records), for `migrate status`, in version order (repeatable
 * ones last). `pending` is the analysis' own verdict, so the count matches what `migrate up` runs.
 */
export function statusEntries(analysis: MigrationAnalysis, files: readonly MigrationFile[]): MigrationStatusEntry[] {
  const out: MigrationStatusEntry[] = [];
  const seen = new Set<string>();
  const pending = new Set([...analysis.pending, ...analysis.repeatable].map((f) => f.version));
  for (const file of files) {
    seen.add(file.version);
    const record = analysis.latest.get(file.version);
    const baselined = analysis.baseline !== undefined && file.kind !== 'repeatable' && compareVersions(file.version, analysis.baseline) <= 0 && !record;
    out.push({
      database: analysis.database, version: file.version, name: file.name, kind: file.kind,
      state: baselined || record?.kind === 'baseline' ? 'baselined' : record?.status ?? 'pending',
      changed: record?.status === 'applied' && record.checksum !== null && record.checksum !== file.checksum,
      pending: pending.has(file.version),
      appliedAt: record?.status === 'applied' ? record.finishedAt : null,
      durationMs: record?.durationMs ?? null,
    });
  }
  for (const record of analysis.latest.values()) {
    if (seen.has(record.version)) continue;
    out.push({
      database: analysis.database, version: record.version, name: record.name, kind: record.kind,
      state: record.kind === 'baseline' ? 'baselined' : record.status === 'applied' ? 'missing-file' : record.status,
      changed: false, pending: false, appliedAt: record.finishedAt, durationMs: record.durationMs,
    });
  }
  return out.sort(compareMigrations);
}
