// `datakeep migrate status` (issue 10): rolled-back and failed migrations are pending again, as `migrate up` sees
// them, and the rows come in version order even when a migration's file is gone.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliCaptured } from '../support/cli-run.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { sql } from '../support/migration-files.js';

describe('datakeep migrate status (CLI)', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;
  const migrations = () => join(dir, 'migrations');
  before(async () => {
    db = await createTestDatabase('dk_mstatus');
    dir = mkdtempSync(join(tmpdir(), 'dk-mstatus-'));
    mkdirSync(migrations());
    config = join(dir, 'datakeep.config.json');
    writeFileSync(config, JSON.stringify({ databases: [{ url: db.url, id: 'app' }], state: { url: db.url }, migrations: { directory: migrations() }, logLevel: 'error' }));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const run = (args: string[]) => runCliCaptured(args, config);

  it('counts rolled-back and failed migrations as pending, and sorts the rows by version', async () => {
    writeFileSync(join(migrations(), '1_one.sql'), sql('CREATE TABLE one (id int);', 'DROP TABLE one;'));
    writeFileSync(join(migrations(), '2_two.sql'), sql('CREATE TABLE two (id int);', 'DROP TABLE two;'));
    writeFileSync(join(migrations(), '3_three.sql'), sql('CREATE TABLE three (id int);', 'DROP TABLE three;'));
    writeFileSync(join(migrations(), '4_four.sql'), sql('SELECT 1 / 0;', 'SELECT 1;'));
    const up = await run(['migrate', 'up']);
    assert.equal(up.code, 1, 'the fourth migration fails');
    const down = await run(['migrate', 'down', '--to', '1']);
    assert.equal(down.code, 0, down.io.stderr.join('\n'));
    // A file that is gone still has its history row, which used to be listed last.
    rmSync(join(migrations(), '1_one.sql'));

    const json = await run(['migrate', 'status', '--json']);
    assert.equal(json.code, 0, json.io.stderr.join('\n'));
    const entries = JSON.parse(json.io.stdout.join('\n')) as { version: string; state: string; pending: boolean }[];
    assert.deepEqual(entries.map((e) => `${e.version}:${e.state}:${e.pending ? 'pending' : '-'}`), ['1:missing-file:-', '2:rolled_back:pending', '3:rolled_back:pending', '4:failed:pending']);

    const text = await run(['migrate', 'status']);
    const lines = text.io.stdout;
    assert.deepEqual(lines.slice(0, 4).map((l) => l.split(/\s+/)[1]), ['1', '2', '3', '4']);
    assert.equal(lines.at(-1), '3 pending of 4');
  });
});
