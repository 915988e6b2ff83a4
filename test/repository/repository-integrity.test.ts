import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RepositoryError } from '../../src/errors/index.js';
import { meta, newRepository, readAll, streamOf, tempDir } from './helpers.js';
import { syntheticBuffer } from './synthetic-data.js';

describe('repository integrity', () => {
  const dir = tempDir('dk-repo-integrity-');
  after(() => dir.remove());

  it('a byte flipped in a chunk on disk: verify names the file and chunk, readFile refuses; a missing chunk too', async () => {
    const path = join(dir.path, 'r');
    const repository = await newRepository(path, 2);
    try {
      const data = await syntheticBuffer(1_000_000, 31);
      const other = await syntheticBuffer(500_000, 32);
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const entry = await writer.addFile('base/1/1259', streamOf(data), meta(data.length));
      const untouched = await writer.addFile('base/1/1260', streamOf(other), meta(other.length));
      writer.setMetadata({ walSegments: ['000000010000000000000002'] });
      const { backupId } = await writer.complete();
      await repository.putWal('000000010000000000000002', Buffer.alloc(1000, 2));
      assert.equal((await repository.verify(backupId)).ok, true);

      const victim = entry.chunks[2]!;
      const file = join(path, 'chunks', victim.slice(0, 2), victim);
      const bytes = readFileSync(file);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      writeFileSync(file, bytes);

      const report = await repository.verify(backupId);
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems.map((p) => [p.kind, p.path, p.chunk]), [['corrupt-chunk', 'base/1/1259', victim]]);
      await assert.rejects(readAll(repository, entry), (e: unknown) => e instanceof RepositoryError && e.reason === 'corrupt-object' && e.message.includes('base/1/1259') && e.message.includes(victim));
      assert.ok((await readAll(repository, untouched)).equals(other));

      renameSync(file, `${file}.moved`);
      const missing = await repository.verify(backupId);
      assert.deepEqual(missing.problems.map((p) => [p.kind, p.chunk]), [['missing-chunk', victim]]);
      await assert.rejects(readAll(repository, entry), (e: unknown) => e instanceof RepositoryError && e.reason === 'missing-object');
    } finally {
      await repository.close();
    }
  });

  it('objects cannot be swapped: a chunk copied over another fails authentication (its key is authenticated)', async () => {
    const path = join(dir.path, 'swap');
    const repository = await newRepository(path, 0);
    try {
      const data = await syntheticBuffer(600_000, 33);
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const entry = await writer.addFile('f', streamOf(data), meta(data.length));
      const { backupId } = await writer.complete();
      const [first, second] = entry.chunks as [string, string];
      copyFileSync(join(path, 'chunks', first.slice(0, 2), first), join(path, 'chunks', second.slice(0, 2), second));
      const report = await repository.verify(backupId);
      assert.deepEqual(report.problems.map((p) => [p.kind, p.chunk]), [['corrupt-chunk', second]]);
    } finally {
      await repository.close();
    }
  });

  it('verify names a missing WAL segment the backup needs, and a missing manifest', async () => {
    const path = join(dir.path, 'wal');
    const repository = await newRepository(path, 0);
    try {
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      writer.setMetadata({ walSegments: ['000000010000000000000003', '000000010000000000000004'] });
      const { backupId } = await writer.complete();
      await repository.putWal('000000010000000000000003', Buffer.alloc(100, 3));
      const report = await repository.verify(backupId);
      assert.deepEqual(report.problems.map((p) => [p.kind, p.path]), [['missing-wal', '000000010000000000000004']]);
      renameSync(join(path, 'backups', backupId, 'manifest'), join(path, 'manifest.moved'));
      assert.deepEqual((await repository.verify(backupId)).problems.map((p) => p.kind), ['missing-manifest']);
    } finally {
      await repository.close();
    }
  });
});
