import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { instantFromDate, parseRecoveryTime, type ParseRecoveryTimeOptions } from '../../src/config/recovery-time.js';
import { UsageError } from '../../src/errors/index.js';

/** Expected values come from Date.UTC, never from the parser's own arithmetic. */
function micros(y: number, mo: number, d: number, h: number, mi: number, s = 0, us = 0): bigint {
  return BigInt(Date.UTC(y, mo - 1, d, h, mi, s)) * 1000n + BigInt(us);
}

const T = micros(2026, 12, 1, 22, 56, 6);
const T_PG = '2026-12-01 22:56:06.000000+00';
const T_ISO = '2026-12-01T22:56:06.000Z';
const HOUR = 3_600_000_000n;

interface Accepted {
  input: string;
  options?: ParseRecoveryTimeOptions;
  epochMicros: bigint;
  postgres: string;
  iso: string;
}

const accepted: Accepted[] = [
  // ISO 8601
  { input: '2026-12-01T22:56:06.518Z', epochMicros: T + 518_000n, postgres: '2026-12-01 22:56:06.518000+00', iso: '2026-12-01T22:56:06.518Z' },
  { input: '2026-12-01T22:56:06Z', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T22:56Z', epochMicros: T - 6_000_000n, postgres: '2026-12-01 22:56:00.000000+00', iso: '2026-12-01T22:56:00.000Z' },
  { input: '2026-12-01T23:56:06+01:00', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T23:56:06+0100', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T23:56:06+01', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T17:56:06-05:00', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-02T04:26:06+05:30', epochMicros: T, postgres: T_PG, iso: T_ISO },
  // +15:59 is the outermost offset accepted.
  { input: '2026-12-02T14:55:06+15:59', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T06:57:06-15:59', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01t22:56:06z', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T22:56:06.5Z', epochMicros: T + 500_000n, postgres: '2026-12-01 22:56:06.500000+00', iso: '2026-12-01T22:56:06.500Z' },
  { input: '2026-12-01T22:56:06.51Z', epochMicros: T + 510_000n, postgres: '2026-12-01 22:56:06.510000+00', iso: '2026-12-01T22:56:06.510Z' },
  { input: '2026-12-01T22:56:06.5181Z', epochMicros: T + 518_100n, postgres: '2026-12-01 22:56:06.518100+00', iso: '2026-12-01T22:56:06.518100Z' },
  { input: '2026-12-01T22:56:06.51812Z', epochMicros: T + 518_120n, postgres: '2026-12-01 22:56:06.518120+00', iso: '2026-12-01T22:56:06.518120Z' },
  { input: '2026-12-01T22:56:06.518123Z', epochMicros: T + 518_123n, postgres: '2026-12-01 22:56:06.518123+00', iso: '2026-12-01T22:56:06.518123Z' },
  { input: '2026-12-01T22:56:06.000001Z', epochMicros: T + 1n, postgres: '2026-12-01 22:56:06.000001+00', iso: '2026-12-01T22:56:06.000001Z' },
  // PostgreSQL literals
  { input: '2026-12-01 22:56:06.518+00', epochMicros: T + 518_000n, postgres: '2026-12-01 22:56:06.518000+00', iso: '2026-12-01T22:56:06.518Z' },
  { input: '2026-12-01 22:56:06+00:00', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 23:56:06 +01', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 17:56:06 -05', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 22:56:06 UTC', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 22:56:06 GMT', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 22:56:06 Z', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 17:56:06 America/New_York', epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 23:56:06.518123 Europe/Berlin', epochMicros: T + 518_123n, postgres: '2026-12-01 22:56:06.518123+00', iso: '2026-12-01T22:56:06.518123Z' },
  { input: '2026-07-01 18:56:06 America/New_York', epochMicros: micros(2026, 7, 1, 22, 56, 6), postgres: '2026-07-01 22:56:06.000000+00', iso: '2026-07-01T22:56:06.000Z' },
  { input: '  2026-12-01 22:56:06+00  ', epochMicros: T, postgres: T_PG, iso: T_ISO },
  // Zone-less with options.timeZone
  { input: '2026-12-01 22:56:06', options: { timeZone: 'UTC' }, epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01T23:56:06', options: { timeZone: 'Europe/Berlin' }, epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-12-01 17:56:06', options: { timeZone: 'America/New_York' }, epochMicros: T, postgres: T_PG, iso: T_ISO },
  { input: '2026-06-01 00:30:00.25', options: { timeZone: 'Europe/Berlin' }, epochMicros: micros(2026, 5, 31, 22, 30, 0, 250_000), postgres: '2026-05-31 22:30:00.250000+00', iso: '2026-05-31T22:30:00.250Z' },
  // An explicit zone in the text wins over options.timeZone.
  { input: '2026-12-01 22:56:06Z', options: { timeZone: 'Asia/Tokyo' }, epochMicros: T, postgres: T_PG, iso: T_ISO },
  // Just either side of the DST changes the wall times are fine.
  { input: '2026-03-08 01:59:59', options: { timeZone: 'America/New_York' }, epochMicros: micros(2026, 3, 8, 6, 59, 59), postgres: '2026-03-08 06:59:59.000000+00', iso: '2026-03-08T06:59:59.000Z' },
  { input: '2026-03-08 03:00:00', options: { timeZone: 'America/New_York' }, epochMicros: micros(2026, 3, 8, 7, 0), postgres: '2026-03-08 07:00:00.000000+00', iso: '2026-03-08T07:00:00.000Z' },
  { input: '2026-11-01 02:00:00', options: { timeZone: 'America/New_York' }, epochMicros: micros(2026, 11, 1, 7, 0), postgres: '2026-11-01 07:00:00.000000+00', iso: '2026-11-01T07:00:00.000Z' },
  { input: '2026-11-01 01:30:00-04', options: { timeZone: 'America/New_York' }, epochMicros: micros(2026, 11, 1, 5, 30), postgres: '2026-11-01 05:30:00.000000+00', iso: '2026-11-01T05:30:00.000Z' },
  { input: '2026-10-25 02:30:00+01', options: { timeZone: 'Europe/Berlin' }, epochMicros: micros(2026, 10, 25, 1, 30), postgres: '2026-10-25 01:30:00.000000+00', iso: '2026-10-25T01:30:00.000Z' },
  // Calendar edges
  { input: '2028-02-29 12:00:00Z', epochMicros: micros(2028, 2, 29, 12, 0), postgres: '2028-02-29 12:00:00.000000+00', iso: '2028-02-29T12:00:00.000Z' },
  { input: '2026-12-31T23:59:59.999999Z', epochMicros: micros(2026, 12, 31, 23, 59, 59, 999_999), postgres: '2026-12-31 23:59:59.999999+00', iso: '2026-12-31T23:59:59.999999Z' },
  { input: '1969-12-31 23:59:59.999999+00', epochMicros: -1n, postgres: '1969-12-31 23:59:59.999999+00', iso: '1969-12-31T23:59:59.999999Z' },
];

interface Rejected {
  input: string;
  options?: ParseRecoveryTimeOptions;
  /** Each must appear in the message. */
  says: RegExp[];
}

const rejected: Rejected[] = [
  { input: '2026-13-45 99:99:99+00', says: [/"2026-13-45 99:99:99\+00" is not a valid time \(month 13 is out of range\)/, /e\.g\. 2026-12-01T22:56:06Z/] },
  { input: '2026-00-10 10:00:00Z', says: [/month 0 is out of range/] },
  { input: '2026-12-45 10:00:00Z', says: [/day 45 is out of range for December 2026, which has 31 days/] },
  { input: '2026-02-30 10:00:00Z', says: [/day 30 is out of range for February 2026, which has 28 days/] },
  { input: '2027-02-29 10:00:00Z', says: [/day 29 is out of range for February 2027/] },
  { input: '2026-04-31 10:00:00Z', says: [/day 31 is out of range for April 2026, which has 30 days/] },
  { input: '2026-12-00 10:00:00Z', says: [/day 0 is out of range/] },
  { input: '2026-12-01 24:00:00Z', says: [/hour 24 is out of range 00-23/, /00:00:00 of the next day/] },
  { input: '2026-12-01 25:00:00Z', says: [/hour 25 is out of range 00-23/] },
  { input: '2026-12-01 22:60:00Z', says: [/minute 60 is out of range 00-59/] },
  { input: '2026-12-01 22:56:60Z', says: [/second 60 is out of range 00-59/, /leap seconds/] },
  { input: '2026-12-01 22:56:61Z', says: [/second 61 is out of range/] },
  { input: '2026-12-01T22:56:06.5181234Z', says: [/fraction \.5181234 has 7 digits/, /at most 6 fraction digits, e\.g\. 2026-12-01T22:56:06\.518123Z/] },
  { input: '2026-12-01 22:56:06+16', says: [/offset \+16 is beyond ±15:59/] },
  { input: '2026-12-01 22:56:06-16:00', says: [/offset -16:00 is beyond ±15:59/] },
  { input: '2026-12-01 22:56:06+01:60', says: [/offset \+01:60 has minutes 60, out of range 00-59/] },
  { input: '0000-12-01 22:56:06Z', says: [/year 0000 is out of range/] },
  { input: '', says: [/^targetTime: is empty; give an ISO 8601 time/] },
  { input: '   ', says: [/is empty/] },
  { input: 'yesterday at noon', says: [/"yesterday at noon" is not a valid time \(expected YYYY-MM-DD HH:MM/] },
  { input: 'now', says: [/"now" is not a valid time/] },
  { input: '2026-12-01 22:56:06 +01 extra', says: [/is not a valid time/, /neither Z, an offset/] },
  { input: '2026-12-01 22:56:06XYZ', says: [/"XYZ" after the time is neither Z, an offset/] },
  { input: '2026-12-01 22', says: [/expected YYYY-MM-DD HH:MM/] },
  { input: '2026/12/01 22:56:06Z', says: [/expected YYYY-MM-DD HH:MM/] },
  { input: '1796165766', says: [/"1796165766" is not a valid time \(it is only digits, which could be epoch seconds/] },
  { input: '20261201', says: [/only digits/] },
  { input: '1796165766.518', says: [/only digits/] },
  { input: '2026-12-01', says: [/"2026-12-01" is not a valid time \(it has a date but no time of day\); give a time too, e\.g\. 2026-12-01T00:00:00Z/] },
  { input: '2026-12-01Z', says: [/no time of day/] },
  { input: '2026-12-01 UTC', says: [/no time of day/] },
  { input: '2026-12-01 22:56:06 Mars/Base', says: [/unknown time zone "Mars\/Base"/, /IANA zone name/] },
  // PostgreSQL reads IST as +02 (timezone_abbreviations = Default), ICU as +05:30: abbreviations are refused.
  { input: '2026-12-02 01:39:22 IST', says: [/"IST" is a time zone abbreviation/, /Asia\/Kolkata/] },
  { input: '2026-12-02 01:39:22 BST', says: [/abbreviation/] },
  { input: '2026-12-01 22:56:06', says: [/^targetTime: "2026-12-01 22:56:06" has no time zone, and PostgreSQL would read it in the server's TimeZone while datakeep would read it in this host's; add Z or an offset \(2026-12-01 22:56:06\+00\), or pass timeZone \(--time-zone\)$/] },
  { input: '2026-12-01T22:56:06', says: [/has no time zone/, /2026-12-01T22:56:06\+00/] },
  { input: '2026-12-01 22:56', options: { field: '--target-time' }, says: [/^--target-time: "2026-12-01 22:56" has no time zone/] },
];

function assertRejects(fn: () => unknown, field: string, says: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.argument, field);
    assert.ok(err.message.startsWith(`${field}: `), err.message);
    // The class adds the field itself; a message that repeats it reads "targetTime: targetTime: ...".
    assert.ok(!err.message.startsWith(`${field}: ${field}`), err.message);
    for (const re of says) assert.match(err.message, re);
    return true;
  });
}

describe('parseRecoveryTime', () => {
  describe('accepts', () => {
    for (const c of accepted) {
      it(`${JSON.stringify(c.input)}${c.options?.timeZone ? ` in ${c.options.timeZone}` : ''}`, () => {
        const got = parseRecoveryTime(c.input, c.options);
        assert.equal(got.epochMicros, c.epochMicros);
        assert.equal(got.postgres, c.postgres);
        assert.equal(got.iso, c.iso);
        assert.equal(got.toDate().getTime(), Number((c.epochMicros - (((c.epochMicros % 1000n) + 1000n) % 1000n)) / 1000n));
      });
    }
  });

  describe('rejects', () => {
    for (const c of rejected) {
      it(JSON.stringify(c.input), () => {
        assertRejects(() => parseRecoveryTime(c.input, c.options), c.options?.field ?? 'targetTime', c.says);
      });
    }

    it('an invalid Date', () => {
      assertRejects(() => parseRecoveryTime(new Date(Number.NaN)), 'targetTime', [/is an invalid Date/]);
      assertRejects(() => instantFromDate(new Date('not a date')), 'date', [/is an invalid Date/]);
    });

    it('a Date outside the years 1-9999', () => {
      assertRejects(() => parseRecoveryTime(new Date(8.64e15)), 'targetTime', [/year 275760/]);
    });

    it('something that is neither a Date nor a string', () => {
      assertRejects(() => parseRecoveryTime(1796165766 as unknown as string), 'targetTime', [/is a number, not a Date or a string/]);
    });

    it('a timeZone option that is not an IANA zone, naming the option', () => {
      for (const timeZone of ['Mars/Base', '', '+01:00', 'Europe/Berlin ']) {
        assertRejects(() => parseRecoveryTime('2026-12-01 22:56:06', { timeZone }), 'timeZone', [/is not an IANA time zone/, /Europe\/Berlin/]);
      }
      // Checked even when the text carries its own zone: a bad option is a bug in the caller either way.
      assertRejects(() => parseRecoveryTime('2026-12-01 22:56:06Z', { timeZone: 'Nowhere' }), 'timeZone', [/"Nowhere"/]);
    });
  });

  describe('daylight saving time', () => {
    const gaps: [string, string, RegExp][] = [
      ['2026-03-08 02:30:00', 'America/New_York', /jump forward from 02:00 to 03:00 \(UTC-05:00 to UTC-04:00\)/],
      ['2026-03-08 02:00:00', 'America/New_York', /from 02:00 to 03:00/],
      ['2026-03-08 02:59:59.999999', 'America/New_York', /from 02:00 to 03:00/],
      ['2026-03-29 02:30:00', 'Europe/Berlin', /jump forward from 02:00 to 03:00 \(UTC\+01:00 to UTC\+02:00\)/],
    ];
    for (const [input, timeZone, jump] of gaps) {
      it(`refuses ${input} in ${timeZone}, which falls in the spring-forward gap`, () => {
        const says = [new RegExp(`does not exist in ${timeZone}`), /gap/, jump];
        assertRejects(() => parseRecoveryTime(input, { timeZone }), 'targetTime', says);
        assertRejects(() => parseRecoveryTime(`${input} ${timeZone}`), 'targetTime', says);
      });
    }

    const ambiguous: [string, string, string, string][] = [
      ['2026-11-01 01:30:00', 'America/New_York', '-04', '-05'],
      ['2026-11-01 01:00:00', 'America/New_York', '-04', '-05'],
      ['2026-10-25 02:30:00', 'Europe/Berlin', '+02', '+01'],
      ['2026-10-25 02:59:59', 'Europe/Berlin', '+02', '+01'],
    ];
    for (const [input, timeZone, first, second] of ambiguous) {
      it(`refuses ${input} in ${timeZone}, which happens twice, and says to give an offset`, () => {
        const says = [new RegExp(`is ambiguous in ${timeZone}`), /happens twice/, /give an offset/, new RegExp(`e\\.g\\. ${input}\\${first} or ${input}\\${second}`)];
        assertRejects(() => parseRecoveryTime(input, { timeZone }), 'targetTime', says);
        assertRejects(() => parseRecoveryTime(`${input} ${timeZone}`), 'targetTime', says);
        // Both suggested spellings parse, an hour apart.
        const a = parseRecoveryTime(`${input}${first}`).epochMicros;
        const b = parseRecoveryTime(`${input}${second}`).epochMicros;
        assert.equal(b - a, HOUR);
      });
    }
  });

  it('keeps microseconds end to end', () => {
    const got = parseRecoveryTime('2026-12-01T22:56:06.518123Z');
    assert.equal(got.postgres, '2026-12-01 22:56:06.518123+00');
    assert.equal(got.iso, '2026-12-01T22:56:06.518123Z');
    assert.equal(got.epochMicros, 1_796_165_766_518_123n);
    assert.equal(got.toDate().toISOString(), '2026-12-01T22:56:06.518Z');
    // The postgres text is itself accepted and names the same instant.
    assert.equal(parseRecoveryTime(got.postgres).epochMicros, got.epochMicros);
    assert.equal(parseRecoveryTime(got.iso).epochMicros, got.epochMicros);
  });

  it('truncates toDate toward the past, also before 1970', () => {
    assert.equal(parseRecoveryTime('1969-12-31T23:59:59.999999Z').toDate().toISOString(), '1969-12-31T23:59:59.999Z');
    assert.equal(parseRecoveryTime('2026-12-01T22:56:06.518999Z').toDate().toISOString(), '2026-12-01T22:56:06.518Z');
  });

  it('round-trips a Date', () => {
    const date = new Date(Date.UTC(2026, 11, 1, 22, 56, 6, 518));
    const got = parseRecoveryTime(date);
    assert.equal(got.epochMicros, 1_796_165_766_518_000n);
    assert.equal(got.postgres, '2026-12-01 22:56:06.518000+00');
    assert.equal(got.iso, date.toISOString());
    assert.equal(got.toDate().getTime(), date.getTime());
    assert.notEqual(got.toDate(), date, 'a fresh Date, so the caller cannot mutate the instant');
    assert.deepEqual(instantFromDate(date).epochMicros, got.epochMicros);
    assert.equal(parseRecoveryTime(got.iso).epochMicros, got.epochMicros);
    assert.equal(parseRecoveryTime(got.postgres).toDate().getTime(), date.getTime());
  });

  it('gives the same answers whatever the process TZ is', async () => {
    const inputs: [string, ParseRecoveryTimeOptions?][] = [
      ['2026-12-01T22:56:06.518123Z'],
      ['2026-12-01 23:56:06+01'],
      ['2026-12-01 17:56:06 America/New_York'],
      ['2026-07-01 12:00:00', { timeZone: 'Europe/Berlin' }],
      ['2026-03-08 01:59:59', { timeZone: 'America/New_York' }],
      ['2026-12-01 22:56:06'],
      ['2026-03-08 02:30:00', { timeZone: 'America/New_York' }],
      ['2026-11-01 01:30:00', { timeZone: 'America/New_York' }],
    ];
    const run = (parse: typeof parseRecoveryTime) =>
      inputs.map(([input, options]) => {
        try {
          const r = parse(input, options);
          return { epochMicros: String(r.epochMicros), postgres: r.postgres, iso: r.iso, ms: r.toDate().getTime() };
        } catch (err) {
          return { error: (err as Error).message };
        }
      });
    const moduleUrl = new URL('../../src/config/recovery-time.js', import.meta.url).href;
    const script = `
      const { parseRecoveryTime } = await import(${JSON.stringify(moduleUrl)});
      const inputs = ${JSON.stringify(inputs)};
      const run = ${run.toString()};
      process.stdout.write(JSON.stringify({ tzOffset: new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset(), results: run(parseRecoveryTime) }));
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, TZ: 'America/New_York' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    const parsed = JSON.parse(out) as { tzOffset: number; results: unknown[] };
    assert.equal(parsed.tzOffset, 300, 'the child really runs in New York time');
    const here = run(parseRecoveryTime);
    assert.deepEqual(parsed.results, here);
    // Sanity: the comparison covered values and errors alike.
    assert.ok(here.some((r) => 'iso' in r) && here.some((r) => 'error' in r));
  });
});
