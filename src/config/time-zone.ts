import { hint } from './parse-config.js';
import { text } from './config-fields.js';

const known = new Map<string, boolean>();

/** True for a time zone name this Node.js knows (IANA names such as "Europe/Berlin", and "UTC"). */
export function isTimeZone(name: string): boolean {
  let ok = known.get(name);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: name });
      ok = true;
    } catch {
      ok = false;
    }
    known.set(name, ok);
  }
  return ok;
}

export const TIME_ZONE_FIX = 'Use a name such as "UTC" or "Europe/Berlin"';

/** The one check of IANA time zones, for every field that takes one. */
export function timeZone() {
  return text(TIME_ZONE_FIX).refine(isTimeZone, { error: (iss) => hint(`${JSON.stringify(iss.input)} is not an IANA time zone`, TIME_ZONE_FIX) });
}
