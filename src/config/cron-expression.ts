import { Cron } from 'croner';
import { ConfigurationError } from '../errors/index.js';
import { isTimeZone, TIME_ZONE_FIX } from './time-zone.js';

/** A schedule with no run within this many years is taken to never run (e.g. "0 0 31 2 *", February 31st). */
export const NEVER_FIRES_YEARS = 5;

const SYNTAX_FIX = 'Use five fields (minute hour day month weekday), e.g. "0 2 * * *" for daily at 02:00, or six with seconds first';

/**
 * What is wrong with a cron expression in a (valid) time zone, or undefined when it is a valid schedule that fires.
 * The scheduler and the backups section both ask here, so a schedule the configuration check accepts also runs.
 */
export function cronProblem(expression: string, timeZone = 'UTC'): { problem: string; fix: string } | undefined {
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone: timeZone, paused: true });
  } catch (cause) {
    return { problem: `"${expression}" is not a valid cron expression (${(cause as Error).message})`, fix: SYNTAX_FIX };
  }
  const now = new Date();
  const next = cron.nextRun(now);
  const horizon = new Date(now);
  horizon.setUTCFullYear(horizon.getUTCFullYear() + NEVER_FIRES_YEARS);
  if (next === null || next > horizon) {
    return {
      problem: `"${expression}" never fires (no run in the next ${NEVER_FIRES_YEARS} years)`,
      fix: 'Check the day and month fields: a date such as February 30 or 31, or April 31, never comes (use "L" for the last day of a month)',
    };
  }
  return undefined;
}

/** A schedule given in code: the time zone, then the expression, each error naming its own field. */
export function assertSchedule(expression: string, timeZone: string | undefined, fields: { cron: string; timeZone: string }): void {
  if (timeZone !== undefined && !isTimeZone(timeZone)) {
    throw new ConfigurationError(fields.timeZone, `${JSON.stringify(timeZone)} is not an IANA time zone`, TIME_ZONE_FIX);
  }
  const found = cronProblem(expression, timeZone);
  if (found) throw new ConfigurationError(fields.cron, found.problem, found.fix);
}
