import { ConfigurationError } from '../errors/index.js';

/** The seed's `retention: {daily, weekly, monthly, yearly}`: how many calendar buckets of each kind to keep. */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
  /** IANA time zone that defines the calendar (default UTC). */
  timeZone?: string;
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
    if (!['daily', 'weekly', 'monthly', 'yearly', 'timeZone'].includes(key)) {
      throw new ConfigurationError(`${field}.${key}`, 'is not a known field', 'Known fields: daily, weekly, monthly, yearly, timeZone');
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
  if (out.daily + out.weekly + out.monthly + out.yearly === 0) {
    throw new ConfigurationError(field, 'keeps nothing (every count is 0)', 'Keep at least one backup, e.g. {daily: 7}');
  }
  return out;
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
 * calendar buckets that have a backup is kept. Then every kept backup keeps its whole chain (a differential or
 * incremental is useless without its base), and the newest backup is always kept. WAL older than the oldest kept
 * backup's first segment may go; WAL a kept backup needs never does.
 */
export function decideRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): RetentionDecision {
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
  return { keep, expire, walExpireBefore };
}

/** WAL names sort by timeline then position; comparing the log/segment part first keeps older timelines' tails. */
export function walOrder(name: string): string {
  return name.length >= 24 ? `${name.slice(8, 24)}${name.slice(0, 8)}` : name;
}
