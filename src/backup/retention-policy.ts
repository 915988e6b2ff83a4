import { parseConfig } from '../config/parse-config.js';
import { DEFAULT_RECOVERY_WINDOW_MS, retentionSchema } from '../config/retention-schema.js';

export { DEFAULT_RECOVERY_WINDOW_MS, parseRecoveryWindow } from '../config/retention-schema.js';

/** The seed's `retention: {daily, weekly, monthly, yearly}`: how many calendar buckets of each kind to keep. */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
  /** IANA time zone that defines the calendar (default UTC). */
  timeZone?: string;
  /**
   * Point-in-time recovery window in milliseconds (resolved): every instant in [now - recoveryWindow, now] stays
   * restorable, whatever the counts above would expire. validateRetention always sets it (default 24 h); a policy
   * built in code without it gets the same default from decideRetention.
   */
  recoveryWindow?: number;
}

export interface RetentionCandidate {
  readonly backupId: string;
  readonly type: 'full' | 'differential' | 'incremental';
  readonly parent: string | undefined;
  /** When the backup became consistent (its stop time): the moment it can restore to. */
  readonly finishedAt: Date;
  /** The first WAL segment it needs (PostgreSQL), for WAL expiry. */
  readonly firstWal?: string;
}

export interface RetentionDecision {
  /** Kept backups with every reason (bucket or dependency). */
  readonly keep: ReadonlyMap<string, string[]>;
  readonly expire: readonly string[];
  /** WAL segments (of every timeline) sorting before this name are no longer needed; undefined keeps all WAL. */
  readonly walExpireBefore: string | undefined;
  /**
   * The point-in-time recovery window after this decision. `from`: the earliest restorable instant, the
   * `finishedAt` (consistency point) of the oldest kept backup, undefined with no backups; `requested`: the policy's
   * recovery window in ms.
   */
  readonly window: { readonly from: Date | undefined; readonly requested: number };
  /** true when `window.from` is later than now - requested (not enough history yet, or none): the caller should warn. */
  readonly windowShort: boolean;
}

/** Validates a retention policy (the backups schema's `retention`); errors name `field` and below. */
export function validateRetention(input: unknown, field = 'retention'): RetentionPolicy {
  return parseConfig(retentionSchema, input, field);
}

/** A window length for reasons and logs: '10m', '1h30m', '36h', '7d', '2d12h', '0s'; Infinity is 'unlimited'. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unlimited';
  let rest = Math.max(0, Math.round(ms));
  const parts: string[] = [];
  const days = Math.floor(rest / 86_400_000);
  // Up to two days reads better in hours ('36h', not '1d12h').
  for (const [unit, size] of (days >= 2 ? [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] : [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]]) as [string, number][]) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.length === 0 ? '0s' : parts.join('');
}

/** Calendar keys of an instant in a time zone: day, ISO week, month, year. */
export function calendarKeys(at: Date, timeZone = 'UTC'): { day: string; week: string; month: string; year: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at).map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  const year = Number(parts.year);
  const month = Number(parts.month);
  const day = Number(parts.day);
  // ISO week of the local calendar date: the week belongs to the year of its Thursday.
  const local = new Date(Date.UTC(year, month - 1, day));
  const weekday = (local.getUTCDay() + 6) % 7;
  const thursday = new Date(local.getTime() + (3 - weekday) * 86_400_000);
  const weekYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (7 * 86_400_000)) + 1;
  const pad = (n: number) => String(n).padStart(2, '0');
  return { day: `${year}-${pad(month)}-${pad(day)}`, week: `${weekYear}-W${pad(week)}`, month: `${year}-${pad(month)}`, year: String(year) };
}

/**
 * Grandfather-father-son retention (restic's semantics): for each kind, the newest backup of each of the last N
 * calendar buckets that have a backup is kept. On top of that the recovery window is kept: the newest backup whose
 * consistency point (`finishedAt`) is at or before now - recoveryWindow and every backup after it (all of them when
 * none is that old), so any instant in the window can be restored. Then every kept backup keeps its whole chain (a
 * differential or incremental is useless without its base), and the newest backup is always kept. WAL older than
 * the oldest kept backup's first segment may go; WAL a kept backup needs never does. Pure: `now` is an argument.
 */
export function decideRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: Date = new Date()): RetentionDecision {
  const byId = new Map(candidates.map((c) => [c.backupId, c]));
  const newestFirst = [...candidates].sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  const keep = new Map<string, string[]>();
  const reason = (id: string, why: string) => {
    const list = keep.get(id) ?? [];
    list.push(why);
    keep.set(id, list);
  };
  for (const kind of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    const limit = policy[kind];
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      if (seen.size >= limit) break;
      const keys = calendarKeys(backup.finishedAt, policy.timeZone);
      const bucket = kind === 'daily' ? keys.day : kind === 'weekly' ? keys.week : kind === 'monthly' ? keys.month : keys.year;
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      reason(backup.backupId, `${kind} ${bucket}`);
    }
  }
  if (newestFirst[0]) reason(newestFirst[0].backupId, 'newest backup');
  const requested = policy.recoveryWindow === undefined || Number.isNaN(policy.recoveryWindow) ? DEFAULT_RECOVERY_WINDOW_MS : Math.max(0, policy.recoveryWindow);
  const windowStart = now.getTime() - requested;
  // newestFirst is newest first: everything up to and including the first backup at or before the window's start.
  const anchor = newestFirst.findIndex((b) => b.finishedAt.getTime() <= windowStart);
  for (const backup of anchor === -1 ? newestFirst : newestFirst.slice(0, anchor + 1)) reason(backup.backupId, `recovery window ${formatDuration(requested)}`);
  for (const id of [...keep.keys()]) {
    let parent = byId.get(id)?.parent;
    while (parent !== undefined) {
      reason(parent, `base of ${id}`);
      parent = byId.get(parent)?.parent;
    }
  }
  const expire = newestFirst.filter((b) => !keep.has(b.backupId)).map((b) => b.backupId).reverse();
  const kept = candidates.filter((c) => keep.has(c.backupId) && c.firstWal !== undefined);
  const walExpireBefore = kept.length === 0 ? undefined : kept.map((c) => c.firstWal!).sort((a, b) => walOrder(a).localeCompare(walOrder(b)))[0];
  const oldestKept = newestFirst.filter((b) => keep.has(b.backupId)).at(-1);
  const from = oldestKept ? new Date(oldestKept.finishedAt.getTime()) : undefined;
  return { keep, expire, walExpireBefore, window: { from, requested }, windowShort: from === undefined || from.getTime() > windowStart };
}

/**
 * One line for the log and the CLI about what a decision leaves restorable, e.g. "PITR window: from
 * 2026-11-27T02:00:00.000Z (requested 24h)" or "... (requested 24h; 3h20m short: no older backup exists yet)".
 */
export function describeRecoveryWindow(decision: Pick<RetentionDecision, 'window' | 'windowShort'>, now: Date = new Date()): string {
  const { from, requested } = decision.window;
  if (from === undefined) return `PITR window: none (no backups; requested ${formatDuration(requested)})`;
  const short = from.getTime() - (now.getTime() - requested);
  return `PITR window: from ${from.toISOString()} (requested ${formatDuration(requested)}${decision.windowShort && Number.isFinite(short) ? `; ${formatDuration(short)} short: no older backup exists yet` : decision.windowShort ? '; short: no older backup exists yet' : ''})`;
}

/** WAL names sort by timeline then position; comparing the log/segment part first keeps older timelines' tails. */
export function walOrder(name: string): string {
  return name.length >= 24 ? `${name.slice(8, 24)}${name.slice(0, 8)}` : name;
}
