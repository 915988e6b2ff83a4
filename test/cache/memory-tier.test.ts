import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTier, type MemoryEntry } from '../../src/cache/memory-tier.js';
import { resolveConfigObject } from '../../src/config/load-config.js';
import { ConfigurationError } from '../../src/errors/index.js';

const entry = (value: unknown, version: number, tags: string[] = []): MemoryEntry => ({
  value,
  freshUntil: Date.now() + 60_000,
  staleUntil: Date.now() + 120_000,
  version,
  tags,
  size: 10,
});

/** The memory tier's ordering rules (no server involved: this is the in-process data structure) and the config section. */
describe('cache memory tier and configuration', () => {
  it('a late invalidation message never drops a value read after that invalidation; an older value is dropped', () => {
    const memory = new MemoryTier({ maxEntries: 10, maxBytes: undefined, rememberMs: 60_000 });
    memory.set('k', entry('read at 7', 7), memory.epoch());
    memory.invalidateKey('k', 5);
    assert.equal(memory.get('k', Date.now())?.value, 'read at 7');
    memory.invalidateKey('k', 8);
    assert.equal(memory.get('k', Date.now()), undefined);
  });

  it('a load that started before an invalidation of its key or one of its tags cannot store its value afterwards', () => {
    const memory = new MemoryTier({ maxEntries: 10, maxBytes: undefined, rememberMs: 60_000 });
    const since = memory.epoch();
    memory.invalidateKey('a');
    memory.invalidateTag('t');
    assert.equal(memory.set('a', entry('old row', 0), since), false);
    assert.equal(memory.set('b', entry('old row', 0, ['t']), since), false);
    assert.equal(memory.set('c', entry('unrelated', 0, ['u']), since), true);
    assert.equal(memory.set('a', entry('new row', 1), memory.epoch()), true);
  });

  it('a tag invalidation drops every key held under it, and the LRU bound evicts the least recently used', () => {
    const memory = new MemoryTier({ maxEntries: 2, maxBytes: undefined, rememberMs: 60_000 });
    memory.set('x', entry(1, 0, ['t']), memory.epoch());
    memory.set('y', entry(2, 0, ['t']), memory.epoch());
    memory.invalidateTag('t', 1);
    assert.equal(memory.size, 0);
    memory.set('x', entry(1, 0), memory.epoch());
    memory.set('y', entry(2, 0), memory.epoch());
    memory.get('x', Date.now());
    memory.set('z', entry(3, 0), memory.epoch());
    assert.deepEqual([memory.get('x', Date.now())?.value, memory.get('y', Date.now()), memory.get('z', Date.now())?.value], [1, undefined, 3]);
  });

  it('the cache section is checked at load: a bad field is named with its fix, an unknown one gets a suggestion', () => {
    assert.throws(
      () => resolveConfigObject({ cache: { redis: 'r', defaultTtl: -5 } }, 'test'),
      (e: unknown) => e instanceof ConfigurationError && e.field === 'cache.defaultTtl' && /out of range/.test(e.message),
    );
    assert.throws(
      () => resolveConfigObject({ cache: { redis: 'r', defaultTTL: 5 } }, 'test'),
      (e: unknown) => e instanceof ConfigurationError && e.field === 'cache.defaultTTL' && /defaultTtl/.test(e.message),
    );
    assert.equal(resolveConfigObject({ cache: { redis: 'r', l1: { maxEntries: 5 } } }, 'test').cache?.l1?.maxEntries, 5);
  });
});
