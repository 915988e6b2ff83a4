import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RepositoryError } from '../../src/errors/index.js';
import { newRepository, reopen, tempDir } from './helpers.js';

describe('WAL archive', () => {
  const dir = tempDir('dk-repo-wal-');
  after(() => dir.remove());

  it('same name and content: already-present; different content: wal-conflict naming the segment; get/list/delete', async () => {
    const path = join(dir.path, 'r');
    const repository = await newRepository(path, 0);
    try {
      const segment = Buffer.alloc(16 * 1024 * 1024);
      for (let i = 0; i < segment.length; i += 8192) segment.writeUInt32LE(i, i);
      const name = '00000001000000000000000A';
      assert.equal(await repository.putWal(name, segment), 'stored');
      assert.equal(await repository.putWal(name, Buffer.from(segment)), 'already-present');
      const different = Buffer.from(segment);
      different[12345]! ^= 1;
      await assert.rejects(repository.putWal(name, different), (e: unknown) => {
        assert.ok(e instanceof RepositoryError);
        assert.equal(e.reason, 'wal-conflict');
        assert.equal(e.object, name);
        assert.match(e.message, /00000001000000000000000A is already archived with different content/);
        return true;
      });
      assert.equal(await repository.putWal('00000002.history', Buffer.from('1\t0/3000000\tno recovery target specified\n')), 'stored');
      assert.deepEqual(readdirSync(join(path, 'wal')).sort(), ['0000000100000000', '00000002']);
      // Compressed on disk: the segment is mostly zeros.
      assert.ok(readdirSync(join(path, 'wal', '0000000100000000')).length === 1);
      const reopened = await reopen(path, 0);
      try {
        assert.ok((await reopened.getWal(name))!.equals(segment));
        assert.equal(await reopened.getWal('00000001000000000000000B'), undefined);
        assert.deepEqual(await reopened.listWal(), ['00000001000000000000000A', '00000002.history']);
        await reopened.deleteWal([name]);
        assert.deepEqual(await reopened.listWal(), ['00000002.history']);
        await assert.rejects(reopened.putWal('../escape', Buffer.alloc(1)), (e: unknown) => e instanceof RepositoryError && e.reason === 'invalid-argument');
      } finally {
        await reopened.close();
      }
    } finally {
      await repository.close();
    }
  });
});
