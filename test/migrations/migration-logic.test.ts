import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseMigrations } from '../../src/migrations/analyse-migrations.js';
import { compareVersions } from '../../src/migrations/discover-migrations.js';
import { lintMigrationSql } from '../../src/migrations/lint-migration-sql.js';
import { migrationChecksum } from '../../src/migrations/migration-checksum.js';
import type { HistoryRecord, MigrationFile } from '../../src/migrations/migration-types.js';
import { parseSqlMigration } from '../../src/migrations/parse-sql-migration.js';
import { UsageError } from '../../src/errors/index.js';

describe('migration checksums', () => {
  it('ignore BOM and line endings, and change with any real edit', () => {
    const lf = 'CREATE TABLE a (x int);\n-- note\n';
    assert.equal(migrationChecksum(lf), migrationChecksum(lf.replace(/\n/g, '\r\n')));
    assert.equal(migrationChecksum(lf), migrationChecksum(`\uFEFF${lf}`));
    assert.equal(migrationChecksum(lf), migrationChecksum(lf.replace(/\n/g, '\r')));
    assert.notEqual(migrationChecksum(lf), migrationChecksum(lf.replace('x int', 'x  int')));
    assert.notEqual(migrationChecksum(lf), migrationChecksum(`${lf}\n`));
    assert.match(migrationChecksum(lf), /^sha256-nl:[0-9a-f]{64}$/);
  });
});

describe('SQL migration sections', () => {
  it('splits up and down, with transaction:false', () => {
    const parsed = parseSqlMigration('-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n', 'f.sql');
    assert.deepEqual(parsed.up, { sql: 'CREATE INDEX CONCURRENTLY i ON t (a);', transaction: false });
    assert.deepEqual(parsed.down, { sql: 'DROP INDEX i;', transaction: true });
  });
  it('treats a file without markers as up only', () => {
    assert.deepEqual(parseSqlMigration('SELECT 1;', 'f.sql'), { up: { sql: 'SELECT 1;', transaction: true }, down: undefined });
  });
  it('rejects duplicate sections, unknown options and SQL before the first marker', () => {
    assert.throws(() => parseSqlMigration('-- migrate:up\nA;\n-- migrate:up\nB;', 'f.sql'), UsageError);
    assert.throws(() => parseSqlMigration('-- migrate:up transaction:maybe\nA;', 'f.sql'), /unknown option/);
    assert.throws(() => parseSqlMigration('SELECT 1;\n-- migrate:up\nA;', 'f.sql'), /before "-- migrate:up"/);
    assert.throws(() => parseSqlMigration('-- migrate:up\n\n-- migrate:down\nB;', 'f.sql'), /empty/);
  });
});

describe('migration lint', () => {
  const cases: [string, RegExp | null, string | undefined][] = [
    ['DROP TABLE users;', /destructive: DROP TABLE users/, undefined],
    ['ALTER TABLE users DROP COLUMN email;', /DROP COLUMN email/, undefined],
    ['ALTER TABLE users DROP CONSTRAINT c;', null, undefined],
    ['ALTER TABLE users ALTER COLUMN age TYPE bigint;', /ALTER COLUMN age TYPE/, undefined],
    ['CREATE INDEX i ON users (email);', /without CONCURRENTLY/, undefined],
    ['CREATE TABLE t (a int); CREATE INDEX i ON t (a);', null, undefined],
    ['CREATE INDEX CONCURRENTLY i ON users (email);', null, 'CREATE INDEX CONCURRENTLY'],
    ['ALTER TABLE users ADD COLUMN flag boolean NOT NULL;', /NOT NULL without a DEFAULT/, undefined],
    ['ALTER TABLE users ADD COLUMN flag boolean NOT NULL DEFAULT false;', null, undefined],
    ["-- DROP TABLE users;\nSELECT 'DROP TABLE users';", null, undefined],
    ['DO $$ BEGIN EXECUTE \'VACUUM\'; END $$;', null, undefined],
    ['VACUUM ANALYZE users;', null, 'VACUUM'],
  ];
  for (const [sql, warning, outside] of cases) {
    it(sql.replace(/\n/g, ' '), () => {
      const result = lintMigrationSql(sql);
      if (warning) assert.ok(result.warnings.some((w) => warning.test(w)), result.warnings.join('; '));
      else assert.deepEqual(result.warnings, []);
      assert.equal(result.cannotRunInTransaction, outside);
    });
  }
});

describe('analysing files against history', () => {
  const file = (version: string, text = version): MigrationFile => ({ version, name: `m${version}`, kind: 'sql', path: `${version}_m.sql`, checksum: migrationChecksum(text), up: { sql: text, transaction: true }, down: undefined, hasDown: false });
  let id = 0;
  const record = (version: string, status: HistoryRecord['status'], text = version, kind: HistoryRecord['kind'] = 'sql'): HistoryRecord => ({
    id: ++id, version, name: `m${version}`, kind, checksum: migrationChecksum(text), status, startedAt: new Date(), finishedAt: new Date(), durationMs: 1, appliedBy: 't', datakeepVersion: 't', error: null,
  });

  it('pending is the set difference, not a high-water mark', () => {
    const a = analyseMigrations('db', [file('1'), file('2'), file('3')], [record('1', 'applied'), record('3', 'applied')]);
    assert.deepEqual(a.pending.map((f) => f.version), ['2']);
    assert.deepEqual(a.outOfOrder.map((o) => [o.file.version, o.newestApplied]), [['2', '3']]);
    assert.ok(a.issues.some((i) => i.kind === 'unknown' && i.version === '2'));
  });

  it('the newest record of a version wins: failed and rolled back are pending again', () => {
    const a = analyseMigrations('db', [file('1'), file('2')], [record('1', 'running'), record('1', 'applied'), record('2', 'applied'), record('2', 'rolled_back')]);
    assert.deepEqual(a.pending.map((f) => f.version), ['2']);
    const b = analyseMigrations('db', [file('1')], [record('1', 'running'), record('1', 'failed')]);
    assert.deepEqual(b.pending.map((f) => f.version), ['1']);
  });

  it('reports changed, missing and interrupted migrations by name', () => {
    const a = analyseMigrations('db', [file('1', 'edited'), file('3')], [record('1', 'applied', 'original'), record('2', 'applied'), record('3', 'running')]);
    const kinds = a.issues.map((i) => `${i.kind}:${i.version}`).sort();
    assert.deepEqual(kinds, ['changed:1', 'interrupted:3', 'missing:2']);
    assert.deepEqual(a.interrupted.map((r) => r.version), ['3']);
  });

  it('numeric version order, whatever the length', () => {
    assert.ok(compareVersions('9', '10') < 0);
    assert.ok(compareVersions('20240101000000', '20231231235959') > 0);
    assert.equal(compareVersions('007', '7'), 0);
  });

  it('a baseline covers every older version', () => {
    const a = analyseMigrations('db', [file('1'), file('2'), file('5')], [record('3', 'applied', '3', 'baseline')]);
    assert.deepEqual(a.pending.map((f) => f.version), ['5']);
    assert.equal(a.outOfOrder.length, 0);
  });
});
