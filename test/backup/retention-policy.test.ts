import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calendarKeys, decideRetention, validateRetention, walOrder, type RetentionCandidate } from '../../src/backup/retention-policy.js';
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
