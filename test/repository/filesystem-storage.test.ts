import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FilesystemStorage } from '../../src/repository/index.js';
import { tempDir } from './helpers.js';

describe('filesystem storage', () => {
  const dir = tempDir('dk-storage-');
  after(() => dir.remove());

  it('put replaces atomically, putIfAbsent lets the first of concurrent writers win, list is recursive and skips temporaries', async () => {
    const storage = new FilesystemStorage(join(dir.path, 's'));
    await storage.put('a/b/c', Buffer.from('one'));
    await storage.put('a/b/c', Buffer.from('two'));
    assert.equal((await storage.get('a/b/c')).toString(), 'two');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => storage.putIfAbsent('x/y', Buffer.from(`writer ${i}`))));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await storage.get('x/y')).toString(), `writer ${results.indexOf(true)}`);
    writeFileSync(join(dir.path, 's', 'a', '.tmp-123-leftover'), 'partial');
    const keys: string[] = [];
    for await (const key of storage.list('')) keys.push(key);
    assert.deepEqual(keys.sort(), ['a/b/c', 'x/y']);
    const temporaries: string[] = [];
    for await (const key of storage.listTemporary()) temporaries.push(key);
    assert.deepEqual(temporaries, ['a/.tmp-123-leftover']);
    assert.deepEqual(readdirSync(join(dir.path, 's', 'x')), ['y'], 'no temporary file is left behind by putIfAbsent');
    assert.equal(await storage.exists('a/b/c'), true);
    await storage.delete('a/b/c');
    assert.equal(await storage.exists('a/b/c'), false);
    await storage.sync();
    await assert.rejects(storage.get('../outside'), /storage key "..\/outside" is invalid/);
  });
});
