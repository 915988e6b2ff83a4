import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RepositoryError } from '../../src/errors/index.js';
import { meta, newRepository, streamOf, tempDir } from './helpers.js';
import { syntheticBuffer } from './synthetic-data.js';

describe('chunk writes that fail', () => {
  const dir = tempDir('dk-repo-write-failure-');
  after(() => dir.remove());

  // addFile returns once its chunk ids are known and the writes finish in the background: a write that fails must
  // still fail the backup, at complete() at the latest, and leave nothing listed.
  it('a chunk write that fails in the background fails complete(): no marker, nothing listed', async () => {
    const path = join(dir.path, 'r');
    const repository = await newRepository(path, 2);
    try {
      // A regular file where the chunks directory should be: every chunk write fails (ENOTDIR), even as root.
      rmSync(join(path, 'chunks'), { recursive: true, force: true });
      writeFileSync(join(path, 'chunks'), 'not a directory');
      const writer = await repository.beginBackup({ type: 'full', database: 'main' });
      const data = await syntheticBuffer(700_000, 41);
      // Whether addFile itself sees the failure depends on timing (its ids may all be known first); complete() must.
      await writer.addFile('base/1/1', streamOf(data), meta(data.length)).catch((e: unknown) => assert.ok(e instanceof RepositoryError, String(e)));
      await assert.rejects(writer.complete(), (e: unknown) => e instanceof RepositoryError && /ENOTDIR|not a directory/.test(`${e.message} ${String((e.cause as Error | undefined)?.message)}`));
      await writer.abort();
      assert.deepEqual(await repository.list(), []);
    } finally {
      await repository.close();
    }
  });
});
