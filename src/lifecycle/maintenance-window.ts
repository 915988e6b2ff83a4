import type { MaintenanceWindow } from './lifecycle-policy.js';

/** Minutes since local midnight of `at` in `timeZone`. */
function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (wanted: string) => Number(parts.find(({ type }) => type === wanted)?.value ?? 0);
  return get('hour') * 60 + get('minute') + get('second') / 60;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/**
 * Where `at` stands relative to a daily window: open (and how many milliseconds remain until it closes) or closed.
 * A window whose end is before its start crosses midnight (22:00-04:00). Local clock arithmetic: on a day whose
 * clock jumps (DST) the remaining time is off by the jump at most, which only moves the stop by that much.
 */
export function windowState(window: MaintenanceWindow | undefined, timeZone: string, at: Date = new Date()): { open: boolean; remainingMs: number } {
  if (!window) return { open: true, remainingMs: Number.POSITIVE_INFINITY };
  const now = localMinutes(at, timeZone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const span = (end - start + 1440) % 1440 || 1440;
  const into = (now - start + 1440) % 1440;
  if (into >= span) return { open: false, remainingMs: 0 };
  return { open: true, remainingMs: Math.round((span - into) * 60_000) };
}
