import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const hasPostgresUser = readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.startsWith('postgres:'));
const skip = process.getuid?.() !== 0 ? 'needs root (runuser, and a checkout the postgres user cannot enter)'
  : !hasPostgresUser ? 'no postgres OS user on this machine' : false;

/** This checkout as another clone would be: a copy without .git, node_modules hard-linked when possible. */
function copyCheckout(to: string): void {
  mkdirSync(to);
  for (const name of readdirSync(ROOT)) {
    if (name === '.git' || name === '.datakeep') continue;
    const from = join(ROOT, name);
    if (name === 'node_modules' && spawnSync('cp', ['-al', from, join(to, name)]).status === 0) continue;
    rmSync(join(to, name), { recursive: true, force: true });
    const result = spawnSync('cp', ['-a', from, join(to, name)], { encoding: 'utf8' });
    assert.equal(result.status, 0, `cp -a ${from}: ${result.stderr}`);
  }
}

function run(cwd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // A nested test runner would otherwise report to this one's parent in its binary protocol.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGTERM' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the test suite from a checkout the postgres user cannot enter', { skip }, () => {
  it('runs from a readable copy, archive_command included, and removes the copy', { timeout: 330_000 }, async () => {
    // mkdtemp makes a 0700 directory of root's, as `mktemp -d` or a clone under /root would be.
    const privateDir = mkdtempSync(join(tmpdir(), 'dk-private-checkout-'));
    try {
      assert.equal(statSync(privateDir).mode & 0o777, 0o700);
      const checkout = join(privateDir, 'datakeep');
      copyCheckout(checkout);
      assert.notEqual(spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-r', join(checkout, 'package.json')], { cwd: '/' }).status, 0,
        'the postgres user cannot read the private checkout');

      // server-runs-checkout-cli makes the server run archive_command and its user run restore_command from the copy;
      // backup-sets is a plain unit file beside it (two files, as a run has).
      const result = await run(checkout, ['scripts/run-tests.mjs', 'server-runs-checkout-cli', 'backup/backup-sets'], 300_000);
      const output = `${result.stdout}\n--- stderr ---\n${result.stderr}`;
      const lines = result.stdout.trimEnd().split('\n');
      const summary = /^(\d+) passed, (\d+) failed, (\d+) skipped$/.exec(lines.at(-1) ?? '');
      assert.ok(summary, `the summary is the last line:\n${output.slice(-4000)}`);
      assert.equal(result.code, 0, output.slice(-4000));
      assert.ok(Number(summary[1]) >= 2, `passed: ${summary[1]}`);
      assert.equal(Number(summary[2]), 0);

      const said = /^running the tests from a copy in (\/tmp\/datakeep-test-checkout-[0-9a-f]+): the postgres OS user cannot (read|enter) /m.exec(result.stdout);
      assert.ok(said, `one line says where and why:\n${result.stdout.slice(0, 2000)}`);
      assert.equal(existsSync(said[1]!), false, 'the copy is removed at the end');
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
  });
});
