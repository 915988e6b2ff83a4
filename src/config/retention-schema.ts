import { z } from 'zod';
import { ConfigurationError } from '../errors/index.js';
import { issueAt, object } from './config-fields.js';
import { hint } from './parse-config.js';
import { timeZone } from './time-zone.js';

/** The recovery window when `retention.recoveryWindow` is not given: 24 hours. */
export const DEFAULT_RECOVERY_WINDOW_MS = 24 * 3_600_000;
/** Longest accepted `recoveryWindow` (100 years of 365 days): anything longer is surely a unit mistake. */
const MAX_RECOVERY_WINDOW_S = 36_500 * 86_400;
const WINDOW_EXAMPLES = "Give seconds (e.g. 86400) or a duration such as '90m', '36h', '7d', '2w', '1h30m', 'PT36H' or 'P7D'";

/**
 * `retention.recoveryWindow` to milliseconds, or what is wrong with it: a number is seconds (an integer >= 0); a
 * string is a duration in w/d/h/m/s parts, largest first ('90m', '36h', '7d', '2w', '1h30m') or ISO 8601 with weeks,
 * days, hours, minutes and seconds ('PT36H', 'P7D', 'P1DT12H'). Years and months are refused: they have no fixed length.
 */
function readRecoveryWindow(value: unknown): { ms: number } | { problem: string } {
  let seconds: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return { problem: `expected an integer number of seconds >= 0, got ${String(value)}` };
    seconds = value;
  } else if (typeof value === 'string') {
    const text = value.trim();
    const shorthand = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    const iso = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(text);
    // Both patterns match an empty duration ('' or 'P'): that is no duration.
    const match = text === '' || text === 'P' ? null : shorthand ?? iso;
    if (!match) {
      if (/^P[^T]*[YM]/.test(text)) return { problem: `"${value}" uses years or months, which have no fixed length; count days instead (e.g. 'P30D')` };
      return { problem: `"${value}" is not a duration` };
    }
    const [w, d, h, m, s] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number, number, number];
    seconds = (((w * 7 + d) * 24 + h) * 60 + m) * 60 + s;
  } else {
    return { problem: `expected seconds or a duration string, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` };
  }
  if (seconds > MAX_RECOVERY_WINDOW_S) return { problem: `${JSON.stringify(value)} is longer than 100 years` };
  return { ms: seconds * 1000 };
}

/** readRecoveryWindow for a value given on its own (the CLI, tests): throws a ConfigurationError naming `field`. */
export function parseRecoveryWindow(value: unknown, field = 'retention.recoveryWindow'): number {
  const read = readRecoveryWindow(value);
  if ('problem' in read) throw new ConfigurationError(field, read.problem, WINDOW_EXAMPLES);
  return read.ms;
}

const count = () =>
  z
    .int({ error: (iss) => hint(`expected an integer >= 0, got ${JSON.stringify(iss.input)}`, `Give how many ${String(iss.path?.at(-1))} backups to keep (0 keeps none of that kind)`) })
    .min(0)
    .max(100_000)
    .default(0);

/**
 * The seed's `retention: {daily, weekly, monthly, yearly}` plus `timeZone` (of the calendar) and `recoveryWindow`
 * (resolved to milliseconds, default 24 h). A policy must keep something: a count above 0 or a recovery window.
 */
export const retentionSchema = object(
  { daily: count(), weekly: count(), monthly: count(), yearly: count(), timeZone: timeZone().optional(), recoveryWindow: z.unknown().optional() },
  'Give counts, e.g. {daily: 7, weekly: 4, monthly: 12, yearly: 5}',
  '{daily, weekly, monthly, yearly}',
).transform((raw, ctx) => {
  const read = raw.recoveryWindow === undefined ? { ms: DEFAULT_RECOVERY_WINDOW_MS } : readRecoveryWindow(raw.recoveryWindow);
  if ('problem' in read) {
    issueAt(ctx, ['recoveryWindow'], read.problem, WINDOW_EXAMPLES);
    return z.NEVER;
  }
  // An explicit window alone is a policy ("keep what restores the last 7 days"); counts of 0 and no window are not.
  if (raw.daily + raw.weekly + raw.monthly + raw.yearly === 0 && (raw.recoveryWindow === undefined || read.ms === 0)) {
    issueAt(ctx, [], 'keeps nothing (every count is 0)', "Keep at least one backup, e.g. {daily: 7}, or give a recoveryWindow, e.g. {recoveryWindow: '7d'}");
    return z.NEVER;
  }
  const policy: { daily: number; weekly: number; monthly: number; yearly: number; timeZone?: string; recoveryWindow: number } = {
    daily: raw.daily, weekly: raw.weekly, monthly: raw.monthly, yearly: raw.yearly, recoveryWindow: read.ms,
  };
  if (raw.timeZone !== undefined) policy.timeZone = raw.timeZone;
  return policy;
});
