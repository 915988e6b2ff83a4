import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chunkCount, meta, newRepository, PASSPHRASE, readAll, reopen, streamOf, tempDir } from './helpers.js';
import { syntheticBuffer } from './synthetic-data.js';

describe('interrupted backups and prune', () => {
  const dir = tempDir('dk-repo-interrupted-');
  after(() => dir.remove());

  it('an abandoned writer is not listed; prune reclaims its chunks and keeps those of completed backups', async () => {
    const repository = await newRepository(join(dir.path, 'abandon'), 2);
    try {
      const kept = await syntheticBuffer(500_000, 41);
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const keptEntry = await writer.addFile('kept', streamOf(kept), meta(kept.length));
      const done = await writer.complete();
      const keptChunks = await chunkCount(repository);

      const abandoned = await repository.beginBackup({ type: 'full', database: 'main' });
      const lost = await syntheticBuffer(700_000, 42);
      await abandoned.addFile('lost', streamOf(lost), meta(lost.length));
      await abandoned.abort();
      assert.deepEqual((await repository.list()).map((b) => b.backupId), [done.backupId]);
      const withLeftovers = await chunkCount(repository);
      assert.ok(withLeftovers > keptChunks);

      const dry = await repository.prune({ dryRun: true });
      assert.equal(dry.chunksRemoved, withLeftovers - keptChunks);
      assert.equal(await chunkCount(repository), withLeftovers);
      const pruned = await repository.prune();
      assert.equal(pruned.chunksRemoved, withLeftovers - keptChunks);
      assert.ok(pruned.bytesReclaimed > 0);
      assert.equal(await chunkCount(repository), keptChunks);
      assert.ok((await readAll(repository, keptEntry)).equals(kept));
      assert.equal((await repository.verify(done.backupId)).ok, true);

      // Deleting the backup makes its chunks unreferenced: the next prune removes them all.
      await repository.deleteBackup(done.backupId);
      assert.deepEqual(await repository.list(), []);
      assert.equal((await repository.prune()).chunksRemoved, keptChunks);
      assert.equal(await chunkCount(repository), 0);
    } finally {
      await repository.close();
    }
  });

  it('a backup process killed with SIGKILL: not listed, its stale lock is taken over, prune reclaims its chunks, the next backup succeeds', async () => {
    const path = join(dir.path, 'killed');
    const first = await newRepository(path, 1);
    await first.close();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'interrupted-backup-child.ts'), path, PASSPHRASE], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (text: Buffer) => text.toString().includes('chunks-stored') && resolve());
        child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
      });
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.on('exit', resolve)));
    const repository = await reopen(path, 1);
    try {
      assert.deepEqual(await repository.list(), []);
      const orphaned = await chunkCount(repository);
      assert.ok(orphaned > 0, 'the killed backup stored chunks');
      assert.ok(readdirSync(join(path, 'locks')).some((name) => name.startsWith('shared-')), 'the killed process left its shared lock');
      const pruned = await repository.prune({ timeoutMs: 5000 });
      assert.equal(pruned.chunksRemoved, orphaned);
      assert.equal(await chunkCount(repository), 0);
      assert.deepEqual(readdirSync(join(path, 'locks')), []);
      assert.equal(existsSync(join(path, 'backups')) ? readdirSync(join(path, 'backups')).flatMap((d) => readdirSync(join(path, 'backups', d))).length : 0, 0);

      const data = await syntheticBuffer(300_000, 43);
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const entry = await writer.addFile('f', streamOf(data), meta(data.length));
      const done = await writer.complete();
      assert.deepEqual((await repository.list()).map((b) => b.backupId), [done.backupId]);
      assert.ok((await readAll(repository, entry)).equals(data));
    } finally {
      await repository.close();
    }
  });
});
