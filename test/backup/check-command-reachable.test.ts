import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCommandReachable } from '../../src/engines/postgres/backup/check-command-reachable.js';
import { PostgresBackupError } from '../../src/engines/postgres/backup/postgres-backup-error.js';

const hasPostgresUser = readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.startsWith('postgres:'));
const skip = process.getuid?.() !== 0 ? 'needs root (runuser)' : !hasPostgresUser ? 'no postgres OS user on this machine' : false;
const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function privateDir(): string {
  // mkdtemp: mode 0700, owned by root, as `mktemp -d` or a home directory under /root.
  const dir = mkdtempSync(join(tmpdir(), 'dk-reach-'));
  scratch.push(dir);
  return dir;
}

describe('checkCommandReachable', { skip }, () => {
  it('names the 0700 root-owned directory that keeps postgres from a file the command runs', async () => {
    const dir = privateDir();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    // A readable subdirectory: the blocker is the outer directory, where path resolution stops.
    const sub = join(dir, 'checkout', 'src');
    mkdirSync(sub, { recursive: true, mode: 0o755 });
    const script = join(sub, 'run.ts');
    writeFileSync(script, 'export {};\n', { mode: 0o644 });
    await assert.rejects(checkCommandReachable([process.execPath, '--import', script, 'wal', 'get', '%f', '"%p"'], 'postgres'), (error: unknown) => {
      assert.ok(error instanceof PostgresBackupError, String(error));
      assert.equal(error.reason, 'backup-failed');
      assert.deepEqual(error.items, [script]);
      assert.ok(error.message.includes(`cannot read ${script}: ${dir} (mode 0700, owner root) does not let postgres in`), error.message);
      assert.match(error.message, /npm install -g|move the checkout/);
      return true;
    });
  });

  it('names the file itself when only its mode keeps postgres out', async () => {
    const dir = privateDir();
    chmodSync(dir, 0o755);
    const script = join(dir, 'secret.ts');
    writeFileSync(script, 'export {};\n', { mode: 0o600 });
    await assert.rejects(checkCommandReachable([script], 'postgres'), (error: unknown) => {
      assert.ok(error instanceof PostgresBackupError, String(error));
      assert.match(error.message, /the file itself does not let postgres read it \(mode 0600, owner root\)/);
      return true;
    });
  });

  it('passes readable files and skips what is not an existing absolute path', async () => {
    await checkCommandReachable([process.execPath, '/etc/passwd', 'relative/path', '/no/such/file', '%p'], 'postgres');
  });

  it('refuses an OS user that does not exist', async () => {
    await assert.rejects(checkCommandReachable(['/etc/passwd'], 'no-such-datakeep-user'), /runuser -u no-such-datakeep-user failed/);
  });
});
