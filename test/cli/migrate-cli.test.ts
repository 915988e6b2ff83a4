import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { sql } from '../support/migration-files.js';

function capture(): CliIo & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), text: () => stdout.join('\n') };
}

describe('datakeep migrate (CLI)', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;
  before(async () => {
    db = await createTestDatabase('dk_mcli');
    dir = mkdtempSync(join(tmpdir(), 'dk-mcli-'));
    config = join(dir, 'datakeep.config.json');
    writeFileSync(config, JSON.stringify({ databases: [{ url: db.url, id: 'app' }], state: { url: db.url }, migrations: { directory: join(dir, 'migrations'), tableName: 'cli_migrations' }, logLevel: 'error' }));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  const run = async (args: string[]) => {
    const io = capture();
    const code = await runCli([...args, '--config', config], io);
    return { code, io };
  };

  it('create, up with progress, status, validate, plan, down, repair, locks', async () => {
    const created = await run(['migrate', 'create', 'create_things']);
    assert.equal(created.code, 0, created.io.stderr.join('\n'));
    const [file] = readdirSync(join(dir, 'migrations'));
    assert.match(file!, /^\d{14}_create_things\.sql$/);
    const version = file!.slice(0, 14);
    writeFileSync(join(dir, 'migrations', file!), sql('CREATE TABLE things (id int);', 'DROP TABLE things;'));
    writeFileSync(join(dir, 'migrations', '99990101000000_more.sql'), sql('ALTER TABLE things ADD COLUMN n int;', 'ALTER TABLE things DROP COLUMN n;'));

    const plan = await run(['migrate', 'up', '--dry-run']);
    assert.equal(plan.code, 0);
    assert.match(plan.io.text(), /-- app up \d{14}_create_things \(sql\)\nCREATE TABLE things \(id int\);/);

    const up = await run(['migrate', 'up']);
    assert.equal(up.code, 0, up.io.stderr.join('\n'));
    assert.match(up.io.text(), /ok app \d{14}_create_things \(\d+ ms\)[\s\S]*applied 2 migration\(s\)/);

    const status = await run(['migrate', 'status', '--json']);
    assert.deepEqual(JSON.parse(status.io.text()).map((s: { state: string }) => s.state), ['applied', 'applied']);

    assert.equal((await run(['migrate', 'validate'])).code, 0);

    const down = await run(['migrate', 'down', '--to', version]);
    assert.equal(down.code, 0, down.io.stderr.join('\n'));
    assert.match(down.io.text(), /rolled back 1 migration/);

    const noTo = await run(['migrate', 'down']);
    assert.equal(noTo.code, 2);
    assert.match(noTo.io.stderr[0]!, /--to/);

    const repairDry = await run(['migrate', 'repair', '99990101000000', '--applied', '--dry-run']);
    assert.equal(repairDry.code, 0, repairDry.io.stderr.join('\n'));
    assert.match(repairDry.io.text(), /would mark app 99990101000000 applied \(was rolled_back\)/);

    const locks = await run(['migrate', 'locks']);
    assert.match(locks.io.text(), /app: advisory lock: free/);

    const bad = await run(['migrate', 'sideways']);
    assert.equal(bad.code, 2);
    assert.match(bad.io.stderr[0]!, /unknown subcommand "sideways"/);
  });

  it('validate exits 1 and names a changed file', async () => {
    const files = readdirSync(join(dir, 'migrations')).sort();
    writeFileSync(join(dir, 'migrations', files[0]!), sql('CREATE TABLE things (id bigint);', 'DROP TABLE things;'));
    const result = await run(['migrate', 'validate']);
    assert.equal(result.code, 1);
    assert.match(result.io.text(), /changed: .*create_things\.sql was changed after it was applied/);
  });
});
