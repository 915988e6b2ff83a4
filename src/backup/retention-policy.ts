import { ConfigurationError } from '../errors/index.js';

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

/** The recovery window when `retention.recoveryWindow` is not given: 24 hours. */
export const DEFAULT_RECOVERY_WINDOW_MS = 24 * 3_600_000;
/** Longest accepted `recoveryWindow` (100 years of 365 days): anything longer is surely a unit mistake. */
const MAX_RECOVERY_WINDOW_S = 36_500 * 86_400;
const WINDOW_EXAMPLES = "Give seconds (e.g. 86400) or a duration such as '90m', '36h', '7d', '2w', '1h30m', 'PT36H' or 'P7D'";
const KNOWN_FIELDS = ['daily', 'weekly', 'monthly', 'yearly', 'timeZone', 'recoveryWindow'];

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

export function validateRetention(input: unknown, field = 'retention'): RetentionPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigurationError(field, 'expected {daily, weekly, monthly, yearly}', 'Give counts, e.g. {daily: 7, weekly: 4, monthly: 12, yearly: 5}');
  }
  const raw = input as Record<string, unknown>;
  const out: RetentionPolicy = { daily: 0, weekly: 0, monthly: 0, yearly: 0 };
  for (const key of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    const value = raw[key] ?? 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100_000) {
      throw new ConfigurationError(`${field}.${key}`, `expected an integer >= 0, got ${JSON.stringify(value)}`, `Give how many ${key} backups to keep (0 keeps none of that kind)`);
    }
    out[key] = value;
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_FIELDS.includes(key)) {
      throw new ConfigurationError(`${field}.${key}`, 'is not a known field', `Known fields: ${KNOWN_FIELDS.join(', ')}`);
    }
  }
  if (raw.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: String(raw.timeZone) });
    } catch {
      throw new ConfigurationError(`${field}.timeZone`, `"${String(raw.timeZone)}" is not an IANA time zone`, 'Use a name such as "UTC" or "Europe/Berlin"');
    }
    out.timeZone = String(raw.timeZone);
  }
  out.recoveryWindow = raw.recoveryWindow === undefined ? DEFAULT_RECOVERY_WINDOW_MS : parseRecoveryWindow(raw.recoveryWindow, `${field}.recoveryWindow`);
  // An explicit window alone is a policy ("keep what restores the last 7 days"); counts of 0 and no window are not.
  if (out.daily + out.weekly + out.monthly + out.yearly === 0 && (raw.recoveryWindow === undefined || out.recoveryWindow === 0)) {
    throw new ConfigurationError(field, 'keeps nothing (every count is 0)', "Keep at least one backup, e.g. {daily: 7}, or give a recoveryWindow, e.g. {recoveryWindow: '7d'}");
  }
  return out;
}

/**
 * `retention.recoveryWindow` to milliseconds: a number is seconds (an integer >= 0); a string is a duration in
 * w/d/h/m/s parts, largest first ('90m', '36h', '7d', '2w', '1h30m') or ISO 8601 with weeks, days, hours, minutes
 * and seconds ('PT36H', 'P7D', 'P1DT12H'). Years and months are refused: they have no fixed length.
 */
export function parseRecoveryWindow(value: unknown, field = 'retention.recoveryWindow'): number {
  function bad(problem: string): never {
    throw new ConfigurationError(field, problem, WINDOW_EXAMPLES);
  }
  let seconds: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) bad(`expected an integer number of seconds >= 0, got ${String(value)}`);
    seconds = value;
  } else if (typeof value === 'string') {
    const text = value.trim();
    const shorthand = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    const iso = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(text);
    // Both patterns match an empty duration ('' or 'P'): that is no duration.
    const match = text === '' || text === 'P' ? null : shorthand ?? iso;
    if (!match) {
      if (/^P[^T]*[YM]/.test(text)) bad(`"${value}" uses years or months, which have no fixed length; count days instead (e.g. 'P30D')`);
      bad(`"${value}" is not a duration`);
    }
    const [w, d, h, m, s] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number];
    seconds = (((w * 7 + d) * 24 + h) * 60 + m) * 60 + s;
  } else {
    bad(`expected seconds or a duration string, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  if (seconds > MAX_RECOVERY_WINDOW_S) bad(`${JSON.stringify(value)} is longer than 100 years`);
  return seconds * 1000;
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
 * 2026-11-27T02:00:00.000Z (requested 24h)" or "... (requested 24h; 3h20m short: not enough history kept)".
 */
export function describeRecoveryWindow(decision: Pick<RetentionDecision, 'window' | 'windowShort'>, now: Date = new Date()): string {
  const { from, requested } = decision.window;
  if (from === undefined) return `PITR window: none (no backups; requested ${formatDuration(requested)})`;
  const short = from.getTime() - (now.getTime() - requested);
  return `PITR window: from ${from.toISOString()} (requested ${formatDuration(requested)}${decision.windowShort && Number.isFinite(short) ? `; ${formatDuration(short)} short: not enough history kept` : decision.windowShort ? '; short: not enough history kept' : ''})`;
}

/** WAL names sort by timeline then position; comparing the log/segment part first keeps older timelines' tails. */
export function walOrder(name: string): string {
  return name.length >= 24 ? `${name.slice(8, 24)}${name.slice(0, 8)}` : name;
}
