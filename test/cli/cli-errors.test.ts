// The CLI and its errors as a new user meets them (issue 10): every database in the health report, exit codes that
// tell usage from failure, JSON errors for parse errors, paths that are files, help and version.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { captureIo, runCliCaptured } from '../support/cli-run.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

const ROOT = new URL('../..', import.meta.url).pathname;

const run = (args: string[]) => runCliCaptured(args);

describe('datakeep CLI errors (issue 10)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-cli-errors-'));
  const pgOnly = join(dir, 'pg.json');
  writeFileSync(pgOnly, JSON.stringify({ databases: [{ url: PG_ADMIN_URL, id: 'pg' }], logLevel: 'error' }));
  let secured: ThrowawayRedis;
  let db: TestDatabase;
  before(async () => {
    secured = await ThrowawayRedis.start({ name: 'cli-auth', config: ['requirepass cli-right-password'] });
    db = await createTestDatabase('dk_cli_errors');
  });
  after(async () => {
    await secured?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('health reports every database: a healthy PostgreSQL beside an unreachable Redis is exit 1, not a lone ConnectionError', async () => {
    const closed = await freePort();
    const file = join(dir, 'mixed.json');
    writeFileSync(file, JSON.stringify({ databases: [{ url: PG_ADMIN_URL, id: 'pg' }, { url: `redis://127.0.0.1:${closed}/0`, id: 'cache', retryAttempts: 0 }], logLevel: 'error' }));
    const json = await run(['health', '--json', '--config', file]);
    assert.equal(json.code, 1, json.io.stderr.join('\n'));
    const { databases } = json.io.json() as { databases: { adapterId: string; status: string; reasons: string[] }[] };
    assert.deepEqual(databases.map((d) => `${d.adapterId}:${d.status}`), ['pg:healthy', 'cache:unhealthy']);
    assert.match(databases[1]!.reasons.join(' '), /ECONNREFUSED/);
    const text = await run(['health', '--config', file]);
    assert.equal(text.code, 1);
    assert.match(text.io.stdout.join('\n'), /^pg: healthy[\s\S]*^cache: unhealthy .*ECONNREFUSED/m);
  });

  it('credentials the server refuses exit 2 (the configuration is wrong), not 3 (unreachable); the password is never shown', async () => {
    const file = join(dir, 'wrong-password.json');
    writeFileSync(file, JSON.stringify({ databases: [{ ...secured.config, id: 'cache', password: 'not-the-password-4711' }], logLevel: 'error' }));
    const result = await run(['health', '--json', '--config', file]);
    assert.equal(result.code, 2, result.io.stderr.join('\n'));
    const out = result.io.json() as { databases: { status: string }[]; error: { name: string; code: string; message: string } };
    assert.equal(out.error.name, 'AuthenticationError');
    assert.equal(out.error.code, 'DK_CONNECTION');
    assert.equal(out.databases[0]!.status, 'unhealthy');
    assert.match(result.io.stderr.join('\n'), /^datakeep: cache: the server refused the credentials/);
    assert.ok(!(result.io.stdout.join('') + result.io.stderr.join('')).includes('not-the-password-4711'));
    // With the right one it is healthy: the test proves the code, not a broken server.
    writeFileSync(file, JSON.stringify({ databases: [{ ...secured.config, id: 'cache', password: 'cli-right-password' }], logLevel: 'error' }));
    assert.equal((await run(['health', '--config', file])).code, 0);
  });

  it('argument-parse errors exit 2 and, under --json, print {"error": ...} on stdout', async () => {
    for (const args of [['health', '--bogus', '--json'], ['--json', 'migrate', 'down', '--to'], ['query', '--json'], ['--json', 'frobnicate'], ['restore', '--port', '99999', '--json']]) {
      const { code, io } = await run(args);
      assert.equal(code, 2, `${args.join(' ')}: ${io.stderr.join('\n')}`);
      const { error } = io.json() as { error: { code: string; message: string } };
      assert.equal(error.code, 'DK_USAGE', args.join(' '));
      assert.match(io.stderr.join('\n'), /^datakeep: /);
    }
    const unknown = await run(['health', '--bogus']);
    assert.equal(unknown.io.stdout.length, 0, 'no JSON without --json');
    assert.match(unknown.io.stderr[0]!, /unknown option '--bogus'.*datakeep health --help/);
  });

  it('usage errors that used to exit 1 exit 2: migrate down --to abc', async () => {
    const file = join(dir, 'migrate.json');
    const migrations = join(dir, 'migrations');
    mkdirSync(migrations);
    writeFileSync(join(migrations, '20240101000000_first.sql'), '-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n');
    writeFileSync(file, JSON.stringify({ databases: [{ url: db.url, id: 'app' }], state: { url: db.url }, migrations: { directory: migrations }, logLevel: 'error' }));
    const abc = await run(['migrate', 'down', '--to', 'abc', '--config', file]);
    assert.equal(abc.code, 2, abc.io.stderr.join('\n'));
    assert.match(abc.io.stderr[0]!, /--to: "abc" is not a migration version/);
    // A well-formed version no migration has is refused by the library before anything runs: usage too.
    const unknown = await run(['migrate', 'down', '--to', '123', '--config', file]);
    assert.equal(unknown.code, 2, unknown.io.stderr.join('\n'));
    assert.match(unknown.io.stderr[0]!, /"123" is not a known migration version/);
  });

  it('a repository or destination path that is a file is a usage error naming the argument, not a raw ENOTDIR', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const env = { DATAKEEP_REPO_PASSPHRASE: 'p' };
    const { runWalCommand } = await import('../../src/cli/run-wal-command.js');
    let stderr = '';
    const io = { env, stdout: () => undefined, stderr: (t: string) => (stderr += t) };
    assert.equal(await runWalCommand(['push', join(dir, '000000010000000000000001'), '--repo', file], io), 1);
    assert.match(stderr, /--repo: ".*a-file" is a file, not a directory/);
    assert.doesNotMatch(stderr, /ENOTDIR/);
    stderr = '';
    assert.equal(await runWalCommand(['get', '000000010000000000000001', join(dir, 'x'), '--repo', join(file, 'below')], io), 255);
    assert.match(stderr, /--repo: ".*a-file\/below" runs through a file/);
    for (const command of [['backup', 'list'], ['backup', 'create'], ['restore']]) {
      const result = await run([...command, '--dest', file, '--config', pgOnly]);
      assert.equal(result.code, 2, `${command.join(' ')}: ${result.io.stderr.join('\n')}`);
      assert.match(result.io.stderr[0]!, /--dest: ".*a-file" is a file, not a directory/);
    }
  });

  it('wal push to a missing repository names the CLI command that creates one, not an API function', async () => {
    let stderr = '';
    const { runWalCommand } = await import('../../src/cli/run-wal-command.js');
    const code = await runWalCommand(['push', join(dir, '000000010000000000000001'), '--repo', join(dir, 'no-repo')], { env: { DATAKEEP_REPO_PASSPHRASE: 'p' }, stdout: () => undefined, stderr: (t) => (stderr += t) });
    assert.equal(code, 1);
    assert.match(stderr, /datakeep backup create --dest DESTINATION/);
    assert.doesNotMatch(stderr, /initRepository/);
  });

  it('--version prints the package version; every command has its --help; wal parse errors keep PostgreSQL\'s codes', async () => {
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.io.stdout.join('').trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    for (const args of [['--help'], ['migrate', 'down', '--help'], ['help', 'backup'], ['wal', 'get', '--help'], ['restore', '-h']]) {
      const { code, io } = await run(args);
      assert.equal(code, 0, args.join(' '));
      assert.match(io.stdout.join('\n'), /^Usage: datakeep/, args.join(' '));
    }
    assert.match((await run(['migrate', 'down', '--help'])).io.stdout.join('\n'), /--to <version>[\s\S]*--dry-run/);
    assert.equal((await run(['wal', 'get', 'only-one-argument'])).code, 255, 'restore_command must not read a usage error as "not in the archive"');
    assert.equal((await run(['wal', 'push'])).code, 2);
    assert.equal((await run(['wal', 'check', '--bogus'])).code, 2);
    // It used to read "abc" as timeline NaN and report the archive complete, exit 0.
    const timeline = await run(['wal', 'check', '--timeline', 'abc', '--repo', dir]);
    assert.equal(timeline.code, 2);
    assert.match(timeline.io.stderr[0]!, /--timeline: "abc" is not a timeline/);
    const configured = await run(['wal', 'get', '000000010000000000000001', 'x', '--config', 'datakeep.config.json']);
    assert.equal(configured.code, 255);
    assert.match(configured.io.stderr[0]!, /--config: wal get reads no configuration/);
  });

  it('docs/cli.md documents every command and every option', async () => {
    const { buildProgram } = await import('../../src/cli/main.js');
    const doc = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
    const missing: string[] = [];
    const visit = (command: Command, path: string) => {
      for (const option of command.options) if (option.long && !doc.includes(option.long)) missing.push(`${path} ${option.long}`);
      for (const sub of command.commands) {
        const subPath = `${path} ${sub.name()}`.trim();
        if (sub.commands.length === 0 && !doc.includes(`datakeep ${subPath}`)) missing.push(subPath);
        visit(sub, subPath);
      }
    };
    visit(await buildProgram({ io: captureIo(), env: {}, exitCode: 0 }), '');
    assert.deepEqual(missing, []);
  });
});
