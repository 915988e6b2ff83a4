import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import { PG_ADMIN_URL } from '../support/postgres-server.js';

const repo = new URL('../..', import.meta.url).pathname;

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

describe('datakeep CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const password = 'cli-secret-never-printed';
  const configFile = join(dir, 'datakeep.config.json');
  writeFileSync(configFile, JSON.stringify({ databases: [{ url: PG_ADMIN_URL, id: 'pg', password }] }));

  it('--help lists the commands and exits 0; no command is a usage error', async () => {
    const io = capture();
    assert.equal(await runCli(['--help'], io), 0);
    assert.match(io.stdout.join('\n'), /health[\s\S]*query[\s\S]*config check/);
    assert.equal(await runCli([], capture()), 2);
  });

  it('health --json reports every database', async () => {
    const io = capture();
    assert.equal(await runCli(['health', '--json', '--config', configFile], io), 0);
    const out = JSON.parse(io.stdout.join('\n'));
    assert.equal(out.databases[0].adapterId, 'pg');
    assert.equal(out.databases[0].status, 'healthy');
    assert.ok(!io.stdout.join('').includes(password));
  });

  it('query prints rows, addresses --db, and reports SQL errors with exit 1', async () => {
    const io = capture();
    assert.equal(await runCli(['query', "SELECT 'x' AS col", '--db', 'pg', '--config', configFile], io), 0);
    assert.match(io.stdout.join('\n'), /col[\s\S]*x[\s\S]*\(1 row\)/);
    const bad = capture();
    assert.equal(await runCli(['query', 'SELEC 1', '--config', configFile], bad), 1);
    assert.match(bad.stderr.join('\n'), /^datakeep: .*syntax error.*SQLSTATE 42601/);
    const unknown = capture();
    assert.equal(await runCli(['query', 'SELECT 1', '--db', 'nope', '--config', configFile], unknown), 2);
    assert.match(unknown.stderr.join('\n'), /known ids: pg/);
  });

  it('config check validates without connecting and hides the password', async () => {
    const io = capture();
    assert.equal(await runCli(['config', 'check', '--json', '--config', configFile], io), 0);
    const text = io.stdout.join('\n');
    assert.equal(JSON.parse(text).valid, true);
    assert.ok(!text.includes(password));
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ databases: [{ type: 'postgresql', host: 'h', port: 70000 }] }));
    const bad = capture();
    assert.equal(await runCli(['config', 'check', '--config', badFile], bad), 2);
    assert.match(bad.stderr.join('\n'), /databases\[0\]\.port: 70000 is out of range/);
  });

  it('an unreachable database exits 3 with a one-line reason that never shows the password', async () => {
    const file = join(dir, 'down.json');
    writeFileSync(file, JSON.stringify({ databases: [{ type: 'postgresql', host: '127.0.0.1', port: 1, password, retryAttempts: 0 }], logLevel: 'error' }));
    const io = capture();
    assert.equal(await runCli(['health', '--config', file], io), 3);
    assert.equal(io.stderr.length, 1);
    assert.match(io.stderr[0]!, /ECONNREFUSED/);
    assert.ok(!io.stderr[0]!.includes(password));
  });

  it('the installed bin runs the main job on the embedded default with no server and no configuration', () => {
    assert.ok(existsSync(join(repo, 'dist', 'cli', 'main.js')), 'dist/ is built by npm install (prepare)');
    const cwd = mkdtempSync(join(dir, 'fresh-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DATAKEEP_')));
    const result = spawnSync(process.execPath, [join(repo, 'bin', 'datakeep.js'), 'start'], { cwd, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /embedded database/);
    assert.match(result.stdout, /pglite-embedded-datakeep: healthy/);
    assert.ok(existsSync(join(cwd, '.datakeep', 'data')));
  });
});
