import { UsageError } from '../errors/index.js';
import { isTimeZone } from './time-zone.js';

export interface RecoveryInstant {
  /** Microseconds since 1970-01-01T00:00:00Z. */
  readonly epochMicros: bigint;
  /** For postgresql.conf recovery_target_time: 'YYYY-MM-DD HH:MM:SS.ffffff+00' (always UTC, always 6 fraction digits). */
  readonly postgres: string;
  /** ISO 8601 UTC with the microseconds kept when non-zero: '2026-12-01T22:56:06.518Z' or '...06.518123Z'. */
  readonly iso: string;
  /** A Date (millisecond precision, truncated toward the past). */
  toDate(): Date;
}

export interface ParseRecoveryTimeOptions {
  /** IANA zone for a time written without a zone or offset (e.g. 'Europe/Berlin', 'UTC'). Without it such a time is an error. */
  timeZone?: string;
  /** The argument name used in error messages, default 'targetTime' (the CLI passes '--target-time'). */
  field?: string;
}

const HINT =
  "give an ISO 8601 time with a zone, e.g. 2026-12-01T22:56:06Z, or a PostgreSQL timestamp with an offset, e.g. '2026-12-01 22:56:06+00'";
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const SECONDS_PER_DAY = 86_400;

// Years are kept to four digits because that is what the postgres form writes, and a PITR target outside them is a typo.
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

// Two-digit fields only: single digits are legal in PostgreSQL but not in ISO 8601, and one strict shape keeps every
// accepted input readable the same way by both.
const SHAPE = /^(\d{4})-(\d{2})-(\d{2})(?:(?:[Tt]| +)(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(.*)$/s;
const OFFSET = /^([+-])(\d{2})(?::?(\d{2}))?$/;
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+\-/]*$/;

/**
 * A point-in-time-recovery target as one absolute instant. Anything that could be read two ways is refused rather than
 * guessed: PostgreSQL reads a zone-less recovery_target_time in the server's TimeZone, so the same text could name
 * different instants to datakeep (choosing the base backup) and to the server (stopping replay).
 */
export function parseRecoveryTime(input: Date | string, options: ParseRecoveryTimeOptions = {}): RecoveryInstant {
  const field = options.field ?? 'targetTime';
  const zone = options.timeZone === undefined ? undefined : checkTimeZoneOption(options.timeZone);
  if (input instanceof Date) return fromDate(input, field);
  if (typeof input !== 'string') {
    throw new UsageError(field, `is ${describeType(input)}, not a Date or a string; ${HINT}`);
  }
  return parseText(input, zone, field);
}

/** Compare helper. */
export function instantFromDate(date: Date): RecoveryInstant {
  return fromDate(date, 'date');
}

function fromDate(date: Date, field: string): RecoveryInstant {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new UsageError(field, `is an invalid Date; pass a valid Date, or ${HINT}`);
  const year = date.getUTCFullYear();
  if (year < MIN_YEAR || year > MAX_YEAR) {
    throw new UsageError(field, `is a Date in the year ${year}, outside ${MIN_YEAR}-${MAX_YEAR}; pass a Date within those years`);
  }
  return makeInstant(BigInt(ms) * 1000n);
}

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  micros: number;
}

type ParsedZone = { kind: 'none' } | { kind: 'offset'; seconds: number } | NamedZone;

function parseText(raw: string, defaultZone: NamedZone | undefined, field: string): RecoveryInstant {
  const text = raw.trim();
  const shown = quote(raw);
  const invalid = (problem: string, fix = HINT) => new UsageError(field, `${shown} is not a valid time (${problem}); ${fix}`);
  if (text === '') throw new UsageError(field, `is empty; ${HINT}`);
  if (/^[+-]?\d+(?:\.\d+)?$/.test(text)) {
    throw invalid('it is only digits, which could be epoch seconds, milliseconds or a compact date');
  }
  const m = SHAPE.exec(text);
  if (!m) throw invalid('expected YYYY-MM-DD HH:MM[:SS[.ffffff]] followed by Z, an offset or a zone name');
  const [, y, mo, d, h, mi, s, frac, rest = ''] = m;
  if (h === undefined) {
    if (rest.trim() === '' || isZoneShaped(rest)) {
      throw invalid('it has a date but no time of day', `give a time too, e.g. ${y}-${mo}-${d}T00:00:00Z or '${y}-${mo}-${d} 00:00:00+00'`);
    }
    throw invalid('expected YYYY-MM-DD HH:MM[:SS[.ffffff]] followed by Z, an offset or a zone name');
  }

  const f: Fields = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: s === undefined ? 0 : Number(s),
    micros: 0,
  };
  if (f.year < MIN_YEAR) throw invalid(`year ${y} is out of range 0001-9999`);
  if (f.month < 1 || f.month > 12) throw invalid(`month ${f.month} is out of range`);
  const monthDays = daysInMonth(f.year, f.month);
  if (f.day < 1 || f.day > monthDays) {
    throw invalid(`day ${f.day} is out of range for ${MONTHS[f.month - 1]} ${f.year}, which has ${monthDays} days`);
  }
  if (f.hour === 24 && f.minute === 0 && f.second === 0) {
    throw invalid('hour 24 is out of range 00-23', 'write midnight as 00:00:00 of the next day');
  }
  if (f.hour > 23) throw invalid(`hour ${f.hour} is out of range 00-23`);
  if (f.minute > 59) throw invalid(`minute ${f.minute} is out of range 00-59`);
  if (f.second > 59) throw invalid(`second ${f.second} is out of range 00-59, and leap seconds are not accepted`);
  if (frac !== undefined) {
    if (frac.length > 6) {
      // Rounding would move the target silently, possibly past the transaction the user meant to stop before.
      const cut = text.replace(`.${frac}`, `.${frac.slice(0, 6)}`);
      throw invalid(`the fraction .${frac} has ${frac.length} digits, but PostgreSQL keeps only microseconds, 6 digits`, `give at most 6 fraction digits, e.g. ${cut}`);
    }
    f.micros = Number(frac.padEnd(6, '0'));
  }

  const zone = parseZone(rest, invalid);
  const wall = utcSeconds(f);
  const stem = text.slice(0, text.length - rest.length);
  let seconds: number;
  if (zone.kind === 'offset') {
    seconds = wall - zone.seconds;
  } else if (zone.kind === 'named') {
    seconds = resolveWallTime(wall, zone, text, stem, field);
  } else if (defaultZone) {
    seconds = resolveWallTime(wall, defaultZone, text, stem, field);
  } else {
    throw new UsageError(
      field,
      `${shown} has no time zone, and PostgreSQL would read it in the server's TimeZone while datakeep would read it in this host's; ` +
        `add Z or an offset (${stem}+00), or pass timeZone (--time-zone)`,
    );
  }
  return makeInstant(BigInt(seconds) * 1_000_000n + BigInt(f.micros));
}

function isZoneShaped(rest: string): boolean {
  const z = rest.trim();
  return /^z$/i.test(z) || OFFSET.test(z) || ZONE_NAME.test(z);
}

function parseZone(rest: string, invalid: (problem: string, fix?: string) => UsageError): ParsedZone {
  const z = rest.trim();
  if (z === '') return { kind: 'none' };
  if (/^(?:z|utc|gmt)$/i.test(z)) return { kind: 'offset', seconds: 0 };
  const off = OFFSET.exec(z);
  if (off) {
    const [, sign, hh = '', mm = '00'] = off;
    if (Number(mm) > 59) throw invalid(`offset ${z} has minutes ${mm}, out of range 00-59`);
    // PostgreSQL's own limit; anything beyond is a typo, not a real zone.
    if (Number(hh) > 15) throw invalid(`offset ${z} is beyond ±15:59`);
    return { kind: 'offset', seconds: (sign === '-' ? -1 : 1) * (Number(hh) * 3600 + Number(mm) * 60) };
  }
  // A zone name must be set apart by a space, as PostgreSQL writes it; glued letters are more likely garbage.
  if (/^\s/.test(rest) && ZONE_NAME.test(z)) {
    // Abbreviations (IST, BST, CST, ...) mean different offsets to different readers: PostgreSQL's
    // timezone_abbreviations says IST is +02, ICU says +05:30. Only region names are unambiguous.
    if (!z.includes('/') && !/^(?:utc|gmt)$/i.test(z)) {
      throw invalid(`"${z}" is a time zone abbreviation, which PostgreSQL and datakeep may read as different offsets`, 'give an offset such as +05:30, or a region name such as Asia/Kolkata or Europe/London');
    }
    const named = namedZone(z);
    if (!named) {
      throw invalid(`unknown time zone "${z}"`, 'give an IANA zone name such as America/New_York or Europe/Berlin, or an offset such as +00');
    }
    return named;
  }
  throw invalid(`"${z}" after the time is neither Z, an offset such as +01:00, nor a zone name`);
}

type NamedZone = { kind: 'named'; name: string; format: Intl.DateTimeFormat };

const zoneCache = new Map<string, NamedZone | null>();

function namedZone(name: string): NamedZone | undefined {
  let cached = zoneCache.get(name);
  if (cached === undefined) {
    // Which names are zones is decided in one place (config/time-zone.ts); this only builds the formatter.
    cached = isTimeZone(name)
      ? {
          kind: 'named',
          name,
          format: new Intl.DateTimeFormat('en-US', {
            timeZone: name,
            hourCycle: 'h23',
            era: 'short',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          }),
        }
      : null;
    zoneCache.set(name, cached);
  }
  return cached ?? undefined;
}

function checkTimeZoneOption(timeZone: unknown): NamedZone {
  const ambiguous = typeof timeZone === 'string' && !timeZone.includes('/') && !/^(?:utc|gmt|etc\/.*)$/i.test(timeZone);
  const named = typeof timeZone === 'string' && timeZone !== '' && !ambiguous ? namedZone(timeZone) : undefined;
  if (!named) {
    throw new UsageError('timeZone', `${quote(String(timeZone))} is not an IANA time zone; give a name such as Europe/Berlin, America/New_York or UTC`);
  }
  return named;
}

/** Seconds the zone is ahead of UTC at `seconds` (an instant), read back from the zone's wall clock. */
function offsetAt(zone: NamedZone, seconds: number): number {
  const parts: Record<string, string> = {};
  for (const p of zone.format.formatToParts(new Date(seconds * 1000))) parts[p.type] = p.value;
  const year = Number(parts.year);
  const wall = utcSeconds({
    year: parts.era === 'BC' ? 1 - year : year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    micros: 0,
  });
  return wall - seconds;
}

/**
 * The instant whose wall clock in `zone` reads `wall`. A wall time can map to no instant (the clocks skipped it) or
 * to two (the clocks showed it twice); both are refused because either guess could restore to the wrong hour.
 */
function resolveWallTime(wall: number, zone: NamedZone, text: string, stem: string, field: string): number {
  // Every real zone changes offset at most once within a day, so the offsets a day either side are all the candidates.
  const candidates = new Set([offsetAt(zone, wall - SECONDS_PER_DAY), offsetAt(zone, wall), offsetAt(zone, wall + SECONDS_PER_DAY)]);
  const hits = [...candidates]
    .map((offset) => ({ offset, instant: wall - offset }))
    .filter((c) => offsetAt(zone, c.instant) === c.offset)
    .sort((a, b) => a.instant - b.instant);
  const first = hits[0];
  const last = hits.at(-1);
  if (first && last && first.instant === last.instant) return first.instant;

  if (!first || !last) {
    const before = offsetAt(zone, wall - SECONDS_PER_DAY);
    const after = offsetAt(zone, wall + SECONDS_PER_DAY);
    const change = transition(zone, wall - SECONDS_PER_DAY, wall + SECONDS_PER_DAY);
    const from = clock(change + before);
    const to = clock(change + after);
    throw new UsageError(
      field,
      `${quote(text)} does not exist in ${zone.name}: on ${day(change + before)} the clocks jump forward from ${from} to ${to} ` +
        `(${utcOffset(before)} to ${utcOffset(after)}), and this time falls in that gap; ` +
        `give a wall-clock time before ${from} or from ${to} on, or an explicit offset`,
    );
  }
  const change = transition(zone, first.instant, last.instant);
  throw new UsageError(
    field,
    `${quote(text)} is ambiguous in ${zone.name}: on ${day(change + first.offset)} the clocks go back from ${clock(change + first.offset)} ` +
      `to ${clock(change + last.offset)}, so this time happens twice, first at ${utcOffset(first.offset)} and again at ${utcOffset(last.offset)}; ` +
      `give an offset to say which, e.g. ${stem}${shortOffset(first.offset)} or ${stem}${shortOffset(last.offset)}`,
  );
}

/** The first instant in (lo, hi] whose offset differs from lo's. */
function transition(zone: NamedZone, lo: number, hi: number): number {
  const start = offsetAt(zone, lo);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(zone, mid) === start) lo = mid;
    else hi = mid;
  }
  return hi;
}

function makeInstant(epochMicros: bigint): RecoveryInstant {
  const ms = floorDiv(epochMicros, 1000n);
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  const fraction = String(epochMicros - floorDiv(epochMicros, 1_000_000n) * 1_000_000n).padStart(6, '0');
  const postgres = `${base.replace('T', ' ')}.${fraction}+00`;
  const iso = `${base}.${fraction.endsWith('000') ? fraction.slice(0, 3) : fraction}Z`;
  return Object.freeze({ epochMicros, postgres, iso, toDate: () => new Date(Number(ms)) });
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Seconds since the epoch of the fields read as UTC. */
function utcSeconds(f: Fields): number {
  // setUTCFullYear rather than Date.UTC, which would read years 0-99 as 1900-1999.
  const d = new Date(0);
  d.setUTCFullYear(f.year, f.month - 1, f.day);
  d.setUTCHours(f.hour, f.minute, f.second, 0);
  return d.getTime() / 1000;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function clock(wallSeconds: number): string {
  const t = new Date(wallSeconds * 1000).toISOString();
  return t.slice(17, 19) === '00' ? t.slice(11, 16) : t.slice(11, 19);
}

function day(wallSeconds: number): string {
  return new Date(wallSeconds * 1000).toISOString().slice(0, 10);
}

function offsetParts(seconds: number): { sign: string; hh: string; mm: string; ss: string } {
  const abs = Math.abs(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return { sign: seconds < 0 ? '-' : '+', hh: pad(Math.floor(abs / 3600)), mm: pad(Math.floor(abs / 60) % 60), ss: pad(abs % 60) };
}

function utcOffset(seconds: number): string {
  const { sign, hh, mm, ss } = offsetParts(seconds);
  return `UTC${sign}${hh}:${mm}${ss === '00' ? '' : `:${ss}`}`;
}

/** The offset as the example suffix for the user to copy: '+02', '+05:30'. */
function shortOffset(seconds: number): string {
  const { sign, hh, mm } = offsetParts(seconds);
  return `${sign}${hh}${mm === '00' ? '' : `:${mm}`}`;
}

function quote(text: string): string {
  // Long garbage (a pasted log line) would bury the fix at the end of the message.
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
