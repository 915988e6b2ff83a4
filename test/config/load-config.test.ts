import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigurationError } from '../../src/errors/index.js';

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('falls back to the embedded default with nothing configured', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    assert.equal(c.embeddedDefault, true);
    assert.equal(c.databases[0]!.type, 'pglite');
    assert.equal(c.databases[0]!.dataDir, join(process.cwd(), '.datakeep', 'data'));
    assert.equal(c.state.dir, join(dir, '.datakeep', 'state'));
  });

  it('reads DATAKEEP_DATABASE_URL (several URLs)', () => {
    const c = loadConfig({ env: { DATAKEEP_DATABASE_URL: 'postgres://u@a/x, redis://b:6379/0' }, cwd: dir });
    assert.deepEqual(c.databases.map((d) => d.id), ['postgresql-a-x', 'redis-b-0']);
  });

  it('reads ./datakeep.config.json with ${ENV} references', () => {
    writeFileSync(join(dir, 'datakeep.config.json'), JSON.stringify({ databases: [{ type: 'postgresql', host: 'db', password: '${DK_TEST_PW}' }], state: { url: 'postgres://s@state/dk' } }));
    const c = loadConfig({ env: { DK_TEST_PW: 'pw-from-env' }, cwd: dir });
    assert.equal(c.databases[0]!.password, 'pw-from-env');
    assert.equal(c.state.url, 'postgres://s@state/dk');
    rmSync(join(dir, 'datakeep.config.json'));
  });

  it('names a missing environment variable', () => {
    const file = join(dir, 'env.json');
    writeFileSync(file, JSON.stringify({ databases: [{ type: 'postgresql', host: 'db', password: '${DK_UNSET_VAR}' }] }));
    assert.throws(() => loadConfig({ file, env: {}, cwd: dir }), (e: unknown) => e instanceof ConfigurationError && e.field === 'databases[0].password' && /DK_UNSET_VAR/.test(e.message));
  });

  it('reports invalid JSON and a missing --config file', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "databases": [ }');
    assert.throws(() => loadConfig({ file, env: {}, cwd: dir }), (e: unknown) => e instanceof ConfigurationError && /not valid JSON/.test(e.message));
    assert.throws(() => loadConfig({ file: join(dir, 'nope.json'), env: {}, cwd: dir }), (e: unknown) => e instanceof ConfigurationError && e.field === '--config');
  });

  it('rejects a non-PostgreSQL state URL and unknown top-level keys', () => {
    const file = join(dir, 'state.json');
    writeFileSync(file, JSON.stringify({ state: { url: 'redis://x' } }));
    assert.throws(() => loadConfig({ file, env: {}, cwd: dir }), (e: unknown) => e instanceof ConfigurationError && e.field === 'state.url');
    writeFileSync(file, JSON.stringify({ database: [] }));
    assert.throws(() => loadConfig({ file, env: {}, cwd: dir }), (e: unknown) => e instanceof ConfigurationError && /Did you mean "databases"/.test(e.message));
  });
});
