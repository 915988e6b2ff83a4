import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chunkCount, meta, newRepository, readAll, streamOf, tempDir } from './helpers.js';
import { syntheticBuffer } from './synthetic-data.js';

describe('repository dedup', () => {
  const dir = tempDir('dk-repo-dedup-');
  after(() => dir.remove());

  it('the same content twice is stored once; a 1 % change stores a small fraction; reused files read back', async () => {
    const repository = await newRepository(join(dir.path, 'r'), 2);
    try {
      const data = await syntheticBuffer(8 * 1024 * 1024, 21);
      const full = await repository.beginBackup({ type: 'full', database: 'main' });
      const a = await full.addFile('a', streamOf(data, 65536), meta(data.length));
      const b = await full.addFile('copy-of-a', streamOf(data, 65536), meta(data.length));
      const fullManifest = await full.complete();
      assert.deepEqual(b.chunks, a.chunks);
      assert.equal(await chunkCount(repository), new Set(a.chunks).size);
      const chunksAfterFull = await chunkCount(repository);

      // 1 % of the bytes changed, in 8 places spread over the file (like updated pages).
      const changed = Buffer.from(data);
      const span = Math.floor(data.length / 100 / 8);
      for (let i = 0; i < 8; i++) {
        const at = Math.floor(((i + 0.5) * data.length) / 8);
        for (let j = 0; j < span; j++) changed[at + j] = changed[at + j]! ^ 0xff;
      }
      const incremental = await repository.beginBackup({ type: 'incremental', parent: fullManifest.backupId, database: 'main' });
      const a2 = await incremental.addFile('a', streamOf(changed, 65536), meta(changed.length));
      incremental.reuseFile(b);
      const incManifest = await incremental.complete();
      const fraction = incManifest.storedBytes / fullManifest.storedBytes;
      console.log(`# dedup: full stored ${fullManifest.storedBytes} bytes for ${fullManifest.sizeBytes}; after a 1 % change the incremental stored ${incManifest.storedBytes} bytes (${(fraction * 100).toFixed(1)} % of the full), ${(await chunkCount(repository)) - chunksAfterFull} new chunks of ${a2.chunks.length}`);
      assert.ok(fraction < 0.25, `incremental stored ${(fraction * 100).toFixed(1)} % of the full`);
      assert.deepEqual(incManifest.chain, [fullManifest.backupId]);
      assert.equal(incManifest.parent, fullManifest.backupId);
      const files = new Map(incManifest.files.map((f) => [f.path, f]));
      assert.equal(files.get('copy-of-a')!.storedIn, fullManifest.backupId);
      assert.equal(files.get('a')!.storedIn, incManifest.backupId);
      assert.ok((await readAll(repository, files.get('a')!)).equals(changed));
      assert.ok((await readAll(repository, files.get('copy-of-a')!)).equals(data));
    } finally {
      await repository.close();
    }
  });
});
