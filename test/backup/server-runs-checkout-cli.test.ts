// PostgreSQL runs datakeep's CLI from this checkout as its own OS user: archive_command (`wal push`) and
// restore_command (`wal get`). The smallest proof that the server can execute and read what it needs here: one
// segment archived by the server, and fetched back by the server's user with the restore command. It is also what
// test/backup/run-from-private-checkout.test.ts runs from a checkout the postgres user cannot enter.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { walGetCommand } from '../../src/engines/postgres/backup/wal-commands-for-server.js';
import { walPrefetchSpool } from '../../src/engines/postgres/backup/wal-prefetch-spool.js';
import { chownTree, startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';
import { substituteRestoreCommand } from '../support/wal-segments.js';

describe('the server runs this checkout\'s datakeep', () => {
  let env: ArchivingPostgres;
  before(async () => {
    env = await startArchivingPostgres('checkout-cli');
  });
  after(async () => {
    await env?.destroy();
  });

  it('archive_command stores a segment, and restore_command fetches it back as the server\'s user', async () => {
    await env.cluster.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g');
    const segment = await env.switchAndArchive();
    const out = mkdtempSync(join(tmpdir(), 'dk-checkout-cli-'));
    try {
      chownTree(out);
      const target = join(out, 'fetched');
      const command = env.restoreCommand.replace('%f', segment).replace('%p', target);
      const result = spawnSync('runuser', ['-u', 'postgres', '--', 'sh', '-c', command], { cwd: '/', encoding: 'utf8', timeout: 60_000 });
      assert.equal(result.status, 0, `${command}\n${result.stderr}`);
      assert.equal(statSync(target).size, 16 * 1024 * 1024);
      // The segment starts with a page header of this cluster's WAL (magic 0xD110 for PostgreSQL 15).
      assert.equal(readFileSync(target).readUInt16LE(0), 0xd110);
      const missing = spawnSync('runuser', ['-u', 'postgres', '--', 'sh', '-c', env.restoreCommand.replace('%f', '0000000100000099000000FF').replace('%p', join(out, 'none'))], { cwd: '/', encoding: 'utf8', timeout: 60_000 });
      assert.equal(missing.status, 1, `a segment not in the archive exits 1 (recovery ends there): ${missing.stderr}`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("the prefetching restore_command too: wal get starts the prefetcher as the server's user, and mv serves what it spooled", async () => {
    await env.cluster.query('INSERT INTO t SELECT g FROM generate_series(1, 1000) g');
    const first = await env.switchAndArchive();
    await env.cluster.query('INSERT INTO t SELECT g FROM generate_series(1, 1000) g');
    const second = await env.switchAndArchive();
    const data = mkdtempSync(join(tmpdir(), 'dk-checkout-prefetch-'));
    try {
      chownTree(data);
      const spool = walPrefetchSpool(data);
      const command = walGetCommand(env.repositoryPath, env.passphraseFile, { spool, queue: 2 });
      // As PostgreSQL runs it: from the data directory, %p relative to it.
      const restore = (name: string, path: string) => spawnSync('runuser', ['-u', 'postgres', '--', 'sh', '-c', substituteRestoreCommand(command, name, path)], { cwd: data, encoding: 'utf8', timeout: 60_000 });
      const fetched = restore(first, 'first');
      assert.equal(fetched.status, 0, `${command}\n${fetched.stderr}`);
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(spool, second))) {
        assert.ok(Date.now() < deadline, `the prefetcher did not spool ${second} within 30 s: ${readdirSync(spool).join(' ')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const moved = restore(second, 'second');
      assert.equal(moved.status, 0, moved.stderr);
      assert.equal(existsSync(join(spool, second)), false, 'served from the spool');
      assert.equal(statSync(join(data, 'second')).size, 16 * 1024 * 1024);
      assert.deepEqual(readFileSync(join(data, 'second')), await env.repository.getWal(second));
    } finally {
      // The prefetcher exits once its spool is gone.
      rmSync(data, { recursive: true, force: true });
    }
  });
});
