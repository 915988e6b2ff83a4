import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import type { DatabaseType } from '../../src/config/database-config.js';
import { enginePart, getEngine } from '../../src/engines/engine-registry.js';
import { latestByVersion, type MigrationHistory } from '../../src/migrations/migration-history.js';
import type { HistoryRecord, NewHistoryRecord } from '../../src/migrations/migration-types.js';
import { PartFixture, type PartNamespace } from './part-namespace.js';

/**
 * One suite that every engine's migration history passes (the `history` of its `migrations` part), reached through
 * `enginePart` as the migration manager reaches it.
 */
export interface HistoryTarget {
  name: string;
  engine: DatabaseType;
  /** Set when the suite cannot run here (no server): it then reports one skipped test saying why. */
  skip?: string;
  namespace(): Promise<PartNamespace>;
  /** How many records the server holds at `location` (the history's own description of where it lives). */
  countAt(adapter: DatabaseAdapter, location: string): Promise<number>;
}

/** Records that exercise every field: nulls, zero, dates with milliseconds, quotes, newlines, non-ASCII, long text. */
export function sampleRecords(): NewHistoryRecord[] {
  const longError = `relation "users" already exists\nLINE 1: CREATE TABLE "users" (id int);\n                     ^\nit's a 'quote', a \\ backslash, a tab\tand ünïcødé ✓ 🚀\n${'stack frame at migrate (file.ts:1:1)\n'.repeat(400)}`;
  return [
    { version: '20240101000001', name: 'create users', kind: 'sql', checksum: `sha256-nl:${'ab12'.repeat(16)}`, status: 'running', startedAt: new Date('2024-02-29T23:59:58.123Z'), finishedAt: null, durationMs: null, appliedBy: 'host-a:4242 (deploy)', datakeepVersion: '0.1.0', error: null },
    { version: '20240101000001', name: 'create users', kind: 'sql', checksum: `sha256-nl:${'ab12'.repeat(16)}`, status: 'failed', startedAt: new Date('2024-02-29T23:59:58.123Z'), finishedAt: new Date('2024-03-01T00:00:01.007Z'), durationMs: 0, appliedBy: 'host-a:4242 (deploy)', datakeepVersion: '0.1.0', error: longError },
    { version: 'R__views', name: "views 'of' \"users\"", kind: 'repeatable', checksum: null, status: 'applied', startedAt: new Date('2030-12-31T12:00:00.999Z'), finishedAt: new Date('2030-12-31T12:20:34.566Z'), durationMs: 1234567, appliedBy: 'ci', datakeepVersion: '1.2.3-rc.1', error: null },
    { version: '20240101000002', name: 'a module', kind: 'module', checksum: null, status: 'rolled_back', startedAt: new Date('2024-01-02T03:04:05.000Z'), finishedAt: new Date('2024-01-02T03:04:05.001Z'), durationMs: 1, appliedBy: 'host-b:1 (ops)', datakeepVersion: '0.1.0', error: '' },
    { version: '20240101000003', name: 'baseline', kind: 'baseline', checksum: null, status: 'applied', startedAt: new Date('2024-01-03T00:00:00.000Z'), finishedAt: null, durationMs: null, appliedBy: 'ops', datakeepVersion: '0.1.0', error: null },
  ];
}

function withoutId(record: HistoryRecord): NewHistoryRecord {
  const { id: _id, ...rest } = record;
  return rest;
}

function assertIncreasingIds(records: readonly HistoryRecord[]): void {
  for (let i = 1; i < records.length; i += 1) assert.ok(records[i]!.id > records[i - 1]!.id, `ids increase in append order: ${records.map((r) => r.id).join(', ')}`);
}

export function historyConformanceSuite(target: HistoryTarget): void {
  if (target.skip) {
    it(`migration history conformance: ${target.name}`, { skip: target.skip }, () => {});
    return;
  }
  describe(`migration history conformance: ${target.name}`, () => {
    const f = new PartFixture(target);
    let tables = 0;
    const table = () => `${f.namespace.prefix}_h${(tables += 1)}`;
    const history = (adapter: DatabaseAdapter, name: string): MigrationHistory => enginePart(adapter, 'migrations', 'migrations').history(adapter, name);

    it('reads an empty history before ensure() (read-only commands must not need it)', async () => {
      assert.deepEqual(await history(f.a, table()).records(), []);
    });

    it('ensure() is idempotent: twice in a row keeps the records, and two adapters at once both succeed', async () => {
      const name = table();
      const h = history(f.a, name);
      await h.ensure();
      await h.ensure();
      const [record] = sampleRecords();
      await h.append(record!);
      await h.ensure();
      assert.equal((await h.records()).length, 1, 'ensure() on an existing history keeps its records');
      // Several fresh histories, each created by two runners at once: the race window is small, so try more than once.
      for (let round = 0; round < 5; round += 1) {
        const fresh = table();
        const results = await Promise.allSettled([history(f.a, fresh).ensure(), history(f.b, fresh).ensure()]);
        for (const r of results) assert.equal(r.status, 'fulfilled', `round ${round}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
        await history(f.a, fresh).append(record!);
        assert.equal((await history(f.b, fresh).records()).length, 1);
      }
    });

    it('append then records() returns every record oldest first with every field as written', async () => {
      const name = table();
      const written = history(f.a, name);
      await written.ensure();
      const samples = sampleRecords();
      for (const record of samples) await written.append(record);
      // Read through another adapter: what the server holds, not what the writer remembers.
      const read = await history(f.b, name).records();
      assertIncreasingIds(read);
      assert.deepEqual(read.map(withoutId), samples);
    });

    it('is append-only: a second record of a version is added beside the first, and latestByVersion picks the newest', async () => {
      const name = table();
      const h = history(f.a, name);
      await h.ensure();
      const [running, failed] = sampleRecords();
      const applied: NewHistoryRecord = { ...running!, status: 'applied', finishedAt: new Date('2024-03-02T00:00:00.250Z'), durationMs: 250 };
      await h.append(running!);
      await h.append(failed!);
      await h.append(applied);
      const records = await history(f.b, name).records();
      assert.deepEqual(records.map((r) => r.status), ['running', 'failed', 'applied']);
      assert.equal(records[1]!.error, failed!.error, 'the failure stays visible after a later success');
      const latest = latestByVersion(records).get(running!.version);
      assert.equal(latest?.status, 'applied');
      assert.equal(latest?.id, records[2]!.id);
    });

    it('location names where the history lives, and the server holds the records there', async () => {
      const name = table();
      const h = history(f.a, name);
      assert.ok(h.location.includes(name), `"${h.location}" names ${name}`);
      await h.ensure();
      const samples = sampleRecords().slice(0, 3);
      for (const record of samples) await h.append(record);
      assert.equal(await target.countAt(f.b, h.location), samples.length);
    });

    if (getEngine(target.engine).sql) {
      it('an append inside a transaction that rolls back leaves nothing; inside one that commits it stays', async () => {
        const name = table();
        const h = history(f.a, name);
        await h.ensure();
        const [record] = sampleRecords();
        await assert.rejects(
          f.a.transaction(async () => {
            await h.append(record!);
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(await history(f.b, name).records(), []);
        await f.a.transaction(async () => {
          await h.append(record!);
        });
        assert.deepEqual((await history(f.b, name).records()).map(withoutId), [record]);
      });
    }
  });
}
