import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { initRepository } from '../../src/repository/index.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { PG_ADMIN_URL } from '../support/postgres-server.js';

const PASSWORD = 'postgres';

/** The CLI as a user runs it: its own process, output through the real stdout and stderr. */
function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DATAKEEP_')));
  const [node, ...prefix] = datakeepCommandLine();
  const result = spawnSync(node!, [...prefix, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** What must never be printed: the password in a URL's userinfo, or any `password` field. */
function assertNoPassword(text: string): void {
  assert.doesNotMatch(text, new RegExp(`:${PASSWORD}@`), text);
  assert.doesNotMatch(text, /"password"/, text);
  assert.ok(!text.includes('[redacted]ql'), `a word was cut by redaction: ${text}`);
}

describe('CLI output is redacted by structure, not by searching for the password (issue 10)', () => {
  const role = `dk_log_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'dk-secret-output-'));
  const configFile = join(dir, 'datakeep.config.json');

  before(async () => {
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
    } finally {
      await admin.end();
    }
    const base = new URL(PG_ADMIN_URL);
    writeFileSync(configFile, JSON.stringify({
      databases: [{ type: 'postgresql', host: base.hostname, port: Number(base.port || 5432), database: 'postgres', username: role, password: PASSWORD }],
      state: { url: `postgres://${role}:${PASSWORD}@${base.host}/postgres` },
      logLevel: 'error',
    }));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await admin.end();
    }
  });

  it('health --json shows the database id and engine intact', () => {
    const run = cli(['health', '--json', '--config', configFile], dir);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { databases: { adapterId: string; status: string }[] };
    assert.equal(out.databases[0]!.adapterId, 'postgresql-127.0.0.1-postgres');
    assert.equal(out.databases[0]!.status, 'healthy');
    assertNoPassword(run.stdout + run.stderr);
  });

  it('query --json prints the data as the database returned it', () => {
    const run = cli(['query', '--json', "SELECT 'postgresql rocks' AS t, current_user AS u", '--config', configFile], dir);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [{ t: 'postgresql rocks', u: role }]);
    assertNoPassword(run.stdout + run.stderr);
  });

  it('config check --json shows no password, and a URL\'s password as [redacted]', () => {
    const run = cli(['config', 'check', '--json', '--config', configFile], dir);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { databases: { id: string; type: string }[]; state: { url: string } };
    assert.equal(out.databases[0]!.id, 'postgresql-127.0.0.1-postgres');
    assert.equal(out.databases[0]!.type, 'postgresql');
    assert.match(out.state.url, new RegExp(`^postgres://${role}:\\[redacted\\]@127\\.0\\.0\\.1`));
    assertNoPassword(run.stdout + run.stderr);
  });

  it('a wrong repository passphrase "wrong" is reported as wrong-passphrase, never as [redacted]-passphrase', async () => {
    const destination = join(dir, 'backups');
    const repository = await initRepository(join(destination, 'app'), { passphrase: 'the right passphrase', workers: 0 });
    await repository.close();
    const passphraseFile = join(dir, 'wrong-passphrase');
    writeFileSync(passphraseFile, 'wrong\n');
    const run = cli(['backup', 'list', '--json', '--dest', destination, '--passphrase-file', passphraseFile, '--config', configFile], dir);
    assert.notEqual(run.status, 0);
    const out = JSON.parse(run.stdout) as { error: { reason: string; message: string } };
    assert.equal(out.error.reason, 'wrong-passphrase');
    assert.match(out.error.message, /passphrase does not unlock/);
    assert.match(run.stderr, /the passphrase does not unlock/);
    assert.ok(!(run.stdout + run.stderr).includes('[redacted]'), run.stdout + run.stderr);
  });
});
