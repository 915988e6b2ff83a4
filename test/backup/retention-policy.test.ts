import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  calendarKeys, decideRetention, DEFAULT_RECOVERY_WINDOW_MS, describeRecoveryWindow, formatDuration, parseRecoveryWindow, validateRetention, walOrder,
  type RetentionCandidate, type RetentionDecision,
} from '../../src/backup/retention-policy.js';
import { ConfigurationError } from '../../src/errors/index.js';

/** A deterministic 400-day history: a full every Sunday, a differential on Wednesday, incrementals on other days. */
function history(days = 400, end = Date.UTC(2026, 10, 28, 2, 0, 0)): RetentionCandidate[] {
  const out: RetentionCandidate[] = [];
  let lastFull: string | undefined;
  let last: string | undefined;
  for (let i = days - 1; i >= 0; i -= 1) {
    const at = new Date(end - i * 86_400_000);
    const weekday = at.getUTCDay();
    const id = `b${at.toISOString().slice(0, 10)}`;
    const type = weekday === 0 || !lastFull ? 'full' : weekday === 3 ? 'differential' : 'incremental';
    const parent = type === 'full' ? undefined : type === 'differential' ? lastFull : last;
    out.push({ backupId: id, type, parent, finishedAt: at, firstWal: `00000001${String(Math.floor((days - i) / 10)).padStart(8, '0')}${String((days - i) % 10).padStart(8, '0')}` });
    if (type === 'full') lastFull = id;
    last = id;
  }
  return out;
}

describe('retention', () => {
  it('keeps exactly the expected set over a 400-day history, and every kept backup keeps its chain and WAL', () => {
    const candidates = history();
    const policy = validateRetention({ daily: 7, weekly: 4, monthly: 12, yearly: 5 });
    const decision = decideRetention(candidates, policy);
    const byId = new Map(candidates.map((c) => [c.backupId, c]));
    // Expected, computed independently: the newest backup of each of the last 7 days, 4 ISO weeks, 12 months,
    // 5 years (all backups are at 02:00 UTC, one per day, so the newest of a bucket is its last day).
    const expected = new Set<string>();
    const dates = candidates.map((c) => c.finishedAt.toISOString().slice(0, 10)).reverse();
    dates.slice(0, 7).forEach((d) => expected.add(`b${d}`));
    const lastOf = (key: (d: string) => string, n: number) => {
      const seen = new Set<string>();
      for (const d of dates) {
        const k = key(d);
        if (seen.has(k)) continue;
        if (seen.size >= n) break;
        seen.add(k);
        expected.add(`b${d}`);
      }
    };
    lastOf((d) => calendarKeys(new Date(`${d}T02:00:00Z`)).week, 4);
    lastOf((d) => d.slice(0, 7), 12);
    lastOf((d) => d.slice(0, 4), 5);
    // ... plus every base they need.
    for (const id of [...expected]) {
      let p = byId.get(id)!.parent;
      while (p) {
        expected.add(p);
        p = byId.get(p)!.parent;
      }
    }
    assert.deepEqual([...decision.keep.keys()].sort(), [...expected].sort());
    assert.equal(decision.expire.length, candidates.length - expected.size);
    for (const id of decision.keep.keys()) {
      let p = byId.get(id)!.parent;
      while (p) {
        assert.ok(decision.keep.has(p), `${id} keeps its base ${p}`);
        p = byId.get(p)!.parent;
      }
      assert.ok(walOrder(byId.get(id)!.firstWal!) >= walOrder(decision.walExpireBefore!), `${id} keeps its WAL`);
    }
    // The oldest kept backup's WAL is exactly the boundary.
    const oldestKept = [...decision.keep.keys()].map((id) => byId.get(id)!).sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime())[0]!;
    assert.equal(decision.walExpireBefore, oldestKept.firstWal);
    console.log(`400 days: ${candidates.length} backups, ${decision.keep.size} kept, ${decision.expire.length} expired`);
  });

  it('uses the given time zone for calendar buckets', () => {
    // 23:30 UTC on Dec 31 is already Jan 1 in Berlin.
    const at = new Date(Date.UTC(2025, 11, 31, 23, 30));
    assert.equal(calendarKeys(at, 'UTC').year, '2025');
    assert.equal(calendarKeys(at, 'Europe/Berlin').year, '2026');
    assert.equal(calendarKeys(new Date(Date.UTC(2021, 0, 3)), 'UTC').week, '2020-W53');
  });

  it('always keeps the newest backup, even a lone incremental whose full is old', () => {
    const c: RetentionCandidate[] = [
      { backupId: 'full-old', type: 'full', parent: undefined, finishedAt: new Date('2020-01-01T00:00:00Z') },
      { backupId: 'incr-new', type: 'incremental', parent: 'full-old', finishedAt: new Date('2026-01-01T00:00:00Z') },
    ];
    const d = decideRetention(c, validateRetention({ yearly: 1 }));
    assert.deepEqual([...d.keep.keys()].sort(), ['full-old', 'incr-new']);
    assert.deepEqual(d.keep.get('full-old'), ['base of incr-new']);
  });

  it('rejects policies that keep nothing or have bad fields', () => {
    assert.throws(() => validateRetention({ daily: 0 }), ConfigurationError);
    assert.throws(() => validateRetention({ daily: -1 }), /retention\.daily/);
    assert.throws(() => validateRetention({ daily: 1, hourly: 2 }), /retention\.hourly/);
    assert.throws(() => validateRetention({ daily: 1, timeZone: 'Mars/Olympus' }), /IANA/);
  });
});

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);

/** A WAL segment name: timeline, then log/segment as one running number (8 + 8 hex digits). */
function wal(position: number, timeline = 1): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(Math.floor(position / 256))}${hex(position % 256)}`;
}

/**
 * The defect's history: a full at T0, then an incremental (or differential) every 5 minutes up to T0+25min, then a
 * new full at T0+30min. Each backup's first WAL is the segment of its start (one segment a minute).
 */
function pitrHistory(chained: 'incremental' | 'differential' = 'incremental'): RetentionCandidate[] {
  const out: RetentionCandidate[] = [{ backupId: 'full-0', type: 'full', parent: undefined, finishedAt: new Date(T0), firstWal: wal(100) }];
  for (let m = 5; m <= 25; m += 5) {
    out.push({ backupId: `${chained === 'incremental' ? 'incr' : 'diff'}-${m}`, type: chained, parent: chained === 'incremental' ? out.at(-1)!.backupId : 'full-0', finishedAt: new Date(T0 + m * MIN), firstWal: wal(100 + m) });
  }
  out.push({ backupId: 'full-30', type: 'full', parent: undefined, finishedAt: new Date(T0 + 30 * MIN), firstWal: wal(130) });
  return out;
}

/**
 * Can a restore reach `at` after this decision? It needs a kept backup consistent at or before `at`, its whole chain
 * kept, and its WAL from its first segment on kept (WAL is kept from walExpireBefore on, without gaps).
 */
function restorable(at: number, candidates: readonly RetentionCandidate[], d: RetentionDecision): boolean {
  const byId = new Map(candidates.map((c) => [c.backupId, c]));
  return candidates.some((b) => {
    if (!d.keep.has(b.backupId) || b.finishedAt.getTime() > at) return false;
    for (let p = b.parent; p !== undefined; p = byId.get(p)?.parent) if (!d.keep.has(p)) return false;
    return b.firstWal === undefined || d.walExpireBefore === undefined || walOrder(b.firstWal) >= walOrder(d.walExpireBefore);
  });
}

/** Every kept backup keeps its chain, and the WAL boundary is at or before every kept backup's first WAL. */
function assertConsistent(candidates: readonly RetentionCandidate[], d: RetentionDecision): void {
  const byId = new Map(candidates.map((c) => [c.backupId, c]));
  assert.equal(d.keep.size + d.expire.length, candidates.length);
  for (const id of d.keep.keys()) {
    for (let p = byId.get(id)!.parent; p !== undefined; p = byId.get(p)?.parent) assert.ok(d.keep.has(p), `${id} keeps its base ${p}`);
    const first = byId.get(id)!.firstWal;
    if (first !== undefined) {
      assert.ok(d.walExpireBefore !== undefined, `${id} has WAL, so WAL expiry has a boundary`);
      assert.ok(walOrder(d.walExpireBefore) <= walOrder(first), `WAL boundary ${d.walExpireBefore} is not past ${id}'s first WAL ${first}`);
    }
  }
  const kept = candidates.filter((c) => d.keep.has(c.backupId)).map((c) => c.finishedAt.getTime());
  assert.equal(d.window.from?.getTime(), kept.length ? Math.min(...kept) : undefined, 'window.from is the oldest kept backup');
}

const ids = (d: RetentionDecision) => [...d.keep.keys()].sort();

describe('retention: recovery window (PITR)', () => {
  it("the defect: a new full no longer expires the chain a restore to six minutes ago needs", () => {
    const candidates = pitrHistory();
    const now = new Date(T0 + 32 * MIN);
    const sixMinutesAgo = now.getTime() - 6 * MIN;

    // What happened: with no window only the new full survived, with its WAL; T0+26min was gone.
    const before = decideRetention(candidates, validateRetention({ daily: 1, recoveryWindow: 0 }), now);
    assert.deepEqual(ids(before), ['full-30']);
    assert.equal(before.walExpireBefore, wal(130));
    assert.equal(restorable(sixMinutesAgo, candidates, before), false);

    // The default (24 h): nothing is that old yet, so everything stays and the window is reported short.
    const policy = validateRetention({ daily: 1 });
    assert.equal(policy.recoveryWindow, DEFAULT_RECOVERY_WINDOW_MS);
    const byDefault = decideRetention(candidates, policy, now);
    assert.deepEqual(ids(byDefault), candidates.map((c) => c.backupId).sort());
    assert.deepEqual(byDefault.expire, []);
    assert.equal(byDefault.walExpireBefore, wal(100));
    assert.deepEqual(byDefault.window, { from: new Date(T0), requested: 24 * HOUR });
    assert.equal(byDefault.windowShort, true);
    assert.ok(byDefault.keep.get('incr-25')!.includes('recovery window 24h'));
    assert.equal(restorable(sixMinutesAgo, candidates, byDefault), true);
    assertConsistent(candidates, byDefault);

    // 10 minutes: the window starts at T0+22min, covered by incr-20 (and so its whole chain) onwards.
    const tenMinutes = decideRetention(candidates, validateRetention({ daily: 1, recoveryWindow: '10m' }), now);
    assert.deepEqual(ids(tenMinutes), candidates.map((c) => c.backupId).sort());
    assert.deepEqual(tenMinutes.keep.get('incr-20'), ['recovery window 10m', 'base of incr-25']);
    assert.deepEqual(tenMinutes.keep.get('full-0'), ['base of incr-25', 'base of incr-20']);
    assert.deepEqual(tenMinutes.window, { from: new Date(T0), requested: 10 * MIN });
    assert.equal(tenMinutes.windowShort, false);
    for (let t = now.getTime() - 10 * MIN; t <= now.getTime(); t += 30_000) assert.ok(restorable(t, candidates, tenMinutes), new Date(t).toISOString());
    assertConsistent(candidates, tenMinutes);

    // Later, once the new full itself covers now - 10m, the old chain and its WAL may go.
    const later = decideRetention(candidates, validateRetention({ daily: 1, recoveryWindow: '10m' }), new Date(T0 + 45 * MIN));
    assert.deepEqual(ids(later), ['full-30']);
    assert.deepEqual(later.expire, ['full-0', 'incr-5', 'incr-10', 'incr-15', 'incr-20', 'incr-25']);
    assert.equal(later.walExpireBefore, wal(130));
    assert.deepEqual(later.window, { from: new Date(T0 + 30 * MIN), requested: 10 * MIN });
    assert.equal(later.windowShort, false);
  });

  it('keeps only the chain that covers now - window: a differential needs its full, not its siblings', () => {
    const candidates = pitrHistory('differential');
    const now = new Date(T0 + 32 * MIN);
    const d = decideRetention(candidates, validateRetention({ daily: 1, recoveryWindow: '10m' }), now);
    // now - 10m = T0+22min: diff-20 is the newest backup at or before it; diff-25 and full-30 come after it.
    assert.deepEqual(ids(d), ['diff-20', 'diff-25', 'full-0', 'full-30']);
    assert.deepEqual(d.expire, ['diff-5', 'diff-10', 'diff-15']);
    assert.equal(d.walExpireBefore, wal(100), 'full-0 is kept, so is its WAL');
    assert.deepEqual(d.window.from, new Date(T0));
    assert.equal(d.windowShort, false);
    for (let t = now.getTime() - 10 * MIN; t <= now.getTime(); t += 30_000) assert.ok(restorable(t, candidates, d), new Date(t).toISOString());
    assertConsistent(candidates, d);
  });

  it('a window boundary exactly on a consistency point keeps that backup; a hand-built policy gets the 24 h default', () => {
    const candidates = pitrHistory('differential');
    const d = decideRetention(candidates, validateRetention({ daily: 1, recoveryWindow: 600 }), new Date(T0 + 30 * MIN));
    assert.deepEqual(ids(d), ['diff-20', 'diff-25', 'full-0', 'full-30']);
    const handBuilt = decideRetention(candidates, { daily: 1, weekly: 0, monthly: 0, yearly: 0 }, new Date(T0 + 30 * MIN));
    assert.equal(handBuilt.window.requested, DEFAULT_RECOVERY_WINDOW_MS);
    assert.equal(handBuilt.expire.length, 0);
  });

  it('reports the window with no backups, and the two-argument call still works', () => {
    const d = decideRetention([], validateRetention({ daily: 7 }), new Date(T0));
    assert.deepEqual(d.window, { from: undefined, requested: 24 * HOUR });
    assert.equal(d.windowShort, true);
    assert.equal(d.walExpireBefore, undefined);
    assert.equal(describeRecoveryWindow(d, new Date(T0)), 'PITR window: none (no backups; requested 24h)');
    const old = [{ backupId: 'a', type: 'full' as const, parent: undefined, finishedAt: new Date('2020-01-01T00:00:00Z'), firstWal: wal(1) }];
    const twoArgs = decideRetention(old, validateRetention({ daily: 7 }));
    assert.deepEqual(twoArgs.window.from, old[0]!.finishedAt);
    assert.equal(twoArgs.windowShort, false);
  });

  it('describes the remaining window for the log', () => {
    const candidates = pitrHistory();
    const now = new Date(T0 + 32 * MIN);
    const short = decideRetention(candidates, validateRetention({ daily: 1 }), now);
    assert.equal(describeRecoveryWindow(short, now), 'PITR window: from 2026-11-28T10:00:00.000Z (requested 24h; 23h28m short: no older backup exists yet)');
    const ok = decideRetention(candidates, validateRetention({ daily: 1, recoveryWindow: '10m' }), now);
    assert.equal(describeRecoveryWindow(ok, now), 'PITR window: from 2026-11-28T10:00:00.000Z (requested 10m)');
  });

  it('over random histories: every instant of the window stays restorable, WAL never past a kept backup', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round += 1) {
      const candidates: RetentionCandidate[] = [];
      let at = T0 - Math.floor(random() * 60) * 86_400_000;
      let position = 1000;
      let timeline = 1;
      let lastFull: string | undefined;
      const count = 1 + Math.floor(random() * 40);
      for (let i = 0; i < count; i += 1) {
        at += Math.floor(random() * 36 * HOUR) + MIN;
        position += 1 + Math.floor(random() * 50);
        if (random() < 0.05) timeline += 1;
        const roll = random();
        const type = !lastFull || roll < 0.2 ? 'full' : roll < 0.5 ? 'differential' : 'incremental';
        const id = `r${round}-${i}`;
        const parent = type === 'full' ? undefined : type === 'differential' ? lastFull : candidates.at(-1)!.backupId;
        candidates.push({ backupId: id, type, parent, finishedAt: new Date(at), firstWal: wal(position, timeline) });
        if (type === 'full') lastFull = id;
      }
      const shuffled = [...candidates].sort(() => random() - 0.5);
      const windowMs = [0, 10 * MIN, HOUR, 24 * HOUR, 7 * 24 * HOUR, 90 * 24 * HOUR][Math.floor(random() * 6)]!;
      const now = at + Math.floor(random() * 48 * HOUR);
      const counts = { daily: Math.floor(random() * 4), weekly: Math.floor(random() * 3), monthly: Math.floor(random() * 2), yearly: 0 };
      const policy = { ...counts, recoveryWindow: windowMs };
      const d = decideRetention(shuffled, policy, new Date(now));
      assertConsistent(candidates, d);
      const oldest = Math.min(...candidates.map((c) => c.finishedAt.getTime()));
      const start = Math.max(now - windowMs, oldest);
      for (let k = 0; k <= 20; k += 1) {
        const t = start + ((now - start) * k) / 20;
        assert.ok(restorable(t, candidates, d), `round ${round}: ${new Date(t).toISOString()} restorable with a ${formatDuration(windowMs)} window`);
      }
      assert.equal(d.windowShort, d.window.from!.getTime() > now - windowMs);
      // The window only adds: whatever the counts alone keep is still kept.
      const countsOnly = decideRetention(shuffled, { ...policy, recoveryWindow: 0 }, new Date(now));
      for (const id of countsOnly.keep.keys()) assert.ok(d.keep.has(id), `round ${round}: ${id} still kept`);
      assert.ok(walOrder(d.walExpireBefore!) <= walOrder(countsOnly.walExpireBefore!));
    }
  });
});

describe('retention: recoveryWindow parsing', () => {
  const table: [unknown, number][] = [
    [0, 0], [3600, HOUR], [86_400, 24 * HOUR],
    ['90m', 90 * MIN], ['36h', 36 * HOUR], ['7d', 7 * 24 * HOUR], ['2w', 14 * 24 * HOUR], ['1h30m', 90 * MIN], ['45s', 45_000],
    ['1d12h', 36 * HOUR], ['1w2d3h4m5s', ((9 * 24 + 3) * 60 + 4) * MIN + 5000], [' 7d ', 7 * 24 * HOUR], ['0m', 0],
    ['PT36H', 36 * HOUR], ['P7D', 7 * 24 * HOUR], ['P2W', 14 * 24 * HOUR], ['PT90M', 90 * MIN], ['P1DT12H', 36 * HOUR], ['PT1H30M15S', 90 * MIN + 15_000],
  ];
  for (const [input, ms] of table) {
    it(`${JSON.stringify(input)} is ${ms} ms`, () => {
      assert.equal(validateRetention({ daily: 1, recoveryWindow: input }).recoveryWindow, ms);
      assert.equal(parseRecoveryWindow(input), ms);
    });
  }

  it('defaults to 24 hours, and a window alone is a policy', () => {
    assert.equal(validateRetention({ daily: 7 }).recoveryWindow, 24 * HOUR);
    assert.deepEqual(validateRetention({ recoveryWindow: '7d' }), { daily: 0, weekly: 0, monthly: 0, yearly: 0, recoveryWindow: 7 * 24 * HOUR });
    assert.throws(() => validateRetention({ recoveryWindow: 0 }), /keeps nothing/);
  });

  const bad: [unknown, RegExp][] = [
    [-1, /got -1/], [1.5, /got 1\.5/], [Number.NaN, /got NaN/], [1e12, /longer than 100 years/], ['40000d', /longer than 100 years/],
    ['', /"" is not a duration/], ['7', /"7" is not a duration/], ['7 days', /"7 days" is not a duration/], ['30m1h', /"30m1h" is not a duration/],
    ['1.5h', /"1\.5h" is not a duration/], ['-5m', /"-5m" is not a duration/], ['36H', /"36H" is not a duration/],
    ['P', /"P" is not a duration/], ['PT', /"PT" is not a duration/], ['P1D2H', /"P1D2H" is not a duration/],
    ['P1M', /"P1M" uses years or months/], ['P1Y2D', /"P1Y2D" uses years or months/],
    [true, /got boolean/], [null, /got null/], [{ hours: 1 }, /got object/], [['1h'], /got an array/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${typeof input === 'number' ? String(input) : JSON.stringify(input)}`, () => {
      assert.throws(() => validateRetention({ daily: 1, recoveryWindow: input }, 'backups.retention'), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.equal(error.field, 'backups.retention.recoveryWindow');
        assert.match(error.message, message);
        assert.match(error.message, /'90m', '36h', '7d', '2w', '1h30m', 'PT36H' or 'P7D'/);
        return true;
      });
    });
  }

  it('lists recoveryWindow among the known fields', () => {
    assert.throws(() => validateRetention({ daily: 1, window: '1h' }), /Known fields: daily, weekly, monthly, yearly, timeZone, recoveryWindow/);
  });

  it('formats durations for reasons and logs', () => {
    const cases: [number, string][] = [[0, '0s'], [45_000, '45s'], [10 * MIN, '10m'], [90 * MIN, '1h30m'], [24 * HOUR, '24h'], [36 * HOUR, '36h'], [7 * 24 * HOUR, '7d'], [60 * HOUR, '2d12h'], [1500, '1s500ms'], [Infinity, 'unlimited']];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text);
  });
});
