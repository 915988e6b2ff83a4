import { Cron } from 'croner';

/** Ticks counted at most: beyond this, "3 or more" says all there is to say. */
const MAX_COUNTED = 3;

export interface MissedTicks {
  /** Ticks, up to 3, that passed more than `graceMs` ago without a run started at or after them. */
  readonly missed: number;
  /** The time between the schedule's two most recent ticks. */
  readonly intervalMs: number;
  /** The oldest missed tick, when there is one. */
  readonly since: Date | undefined;
}

/**
 * How many ticks of `cron` a job is behind: ticks after `lastStart` (the start of the newest run that counts, or
 * undefined for none) that are older than `now - grace`, where the grace is the longest of `minimumGraceMs` and 5 %
 * of the interval, so that a run still under way after its tick is not counted as missed. A run started within a
 * second before a tick covers it (scheduled runs start just after the tick, truncated to the second).
 */
export function missedTicks(cron: string, timeZone: string | undefined, lastStart: Date | undefined, now: Date, minimumGraceMs = 0): MissedTicks {
  const schedule = new Cron(cron, { timezone: timeZone, paused: true });
  const previous = schedule.previousRuns(2, now);
  const [later, earlier] = previous.length === 2 ? previous : schedule.nextRuns(2, now).reverse();
  const intervalMs = later && earlier ? later.getTime() - earlier.getTime() : 0;
  const grace = Math.max(minimumGraceMs, intervalMs * 0.05);
  const due = schedule.previousRuns(MAX_COUNTED, new Date(now.getTime() - grace)).filter((tick) => lastStart === undefined || tick.getTime() > lastStart.getTime() + 1000);
  schedule.stop();
  return { missed: due.length, intervalMs, since: due.at(-1) };
}

/** `ms` in the largest whole unit that fits: "3 h", "2 d", "45 s". */
export function describeDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
