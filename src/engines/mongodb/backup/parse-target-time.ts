import { UsageError } from '../../../errors/index.js';

// A zone is required: a time without one would name different instants on different machines.
const WITH_ZONE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$/;

/** A restore's target time as an instant: a valid Date, or ISO 8601 text with `Z` or an offset. */
export function parseTargetTime(input: Date | string, field: string): Date {
  if (input instanceof Date) {
    if (Number.isNaN(input.getTime())) throw new UsageError(field, 'is an invalid Date; pass a valid one');
    return input;
  }
  const text = String(input).trim();
  const parsed = WITH_ZONE.test(text) ? Date.parse(text.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00')) : Number.NaN;
  if (Number.isNaN(parsed)) throw new UsageError(field, `"${text}" is not a time with a zone; give ISO 8601 with Z or an offset, e.g. 2026-12-01T22:56:06Z`);
  return new Date(parsed);
}
