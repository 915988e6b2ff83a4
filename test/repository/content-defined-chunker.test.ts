import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ContentDefinedChunker, gearTable } from '../../src/repository/content-defined-chunker.js';
import { syntheticBuffer } from './synthetic-data.js';
import { TEST_CHUNKS } from './helpers.js';

function chunk(data: Buffer, gear: Int32Array, piece = 7777): Buffer[] {
  const chunker = new ContentDefinedChunker(TEST_CHUNKS, gear);
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += piece) out.push(...chunker.push(data.subarray(at, at + piece)));
  return [...out, ...chunker.finish()];
}

/**
 * The chunker as first written (one buffer, scan, copy out): boundaries are part of the repository's behaviour (dedup
 * across backups and across datakeep versions depends on them), so the faster chunker must cut exactly here.
 */
function referenceBoundaries(data: Buffer, gear: Int32Array, sizes = TEST_CHUNKS): number[] {
  const bits = Math.log2(sizes.average);
  const high = (count: number): number => ((2 ** count - 1) * 2 ** (32 - count)) | 0;
  const maskS = high(bits + 2);
  const maskL = high(bits - 2);
  const lengths: number[] = [];
  for (let start = 0; start < data.length;) {
    const length = Math.min(sizes.max, data.length - start);
    let cut = length;
    let hash = 0;
    for (let i = sizes.min; i < length; i++) {
      hash = ((hash << 1) + gear[data[start + i]!]!) | 0;
      if ((hash & (i < sizes.average ? maskS : maskL)) === 0) {
        cut = i + 1;
        break;
      }
    }
    lengths.push(cut);
    start += cut;
  }
  return lengths;
}

describe('content-defined chunker', () => {
  const gear = gearTable(randomBytes(1024));

  it('reassembles the input exactly, respects min/max, and does not depend on how the input is split', async () => {
    const data = await syntheticBuffer(4 * 1024 * 1024, 11);
    const a = chunk(data, gear, 7777);
    const b = chunk(data, gear, 65536);
    assert.ok(Buffer.concat(a).equals(data));
    assert.deepEqual(a.map((c) => c.length), b.map((c) => c.length));
    for (const c of a.slice(0, -1)) assert.ok(c.length >= TEST_CHUNKS.min && c.length <= TEST_CHUNKS.max, `chunk of ${c.length} bytes is out of bounds`);
    const average = data.length / a.length;
    assert.ok(average > TEST_CHUNKS.average / 2 && average < TEST_CHUNKS.average * 2, `average ${average} far from ${TEST_CHUNKS.average}`);
  });

  it('an insert in the middle changes only the chunks around it: later boundaries do not shift', async () => {
    const data = await syntheticBuffer(4 * 1024 * 1024, 12);
    const middle = 2 * 1024 * 1024 + 123;
    const edited = Buffer.concat([data.subarray(0, middle), Buffer.from('an inserted sentence of some length!'), data.subarray(middle)]);
    const before = chunk(data, gear).map((c) => c.toString('base64'));
    const after = chunk(edited, gear).map((c) => c.toString('base64'));
    const known = new Set(before);
    const changed = after.filter((c) => !known.has(c)).length;
    console.log(`# CDC: ${before.length} chunks before, ${after.length} after the insert, ${changed} new`);
    assert.ok(changed >= 1 && changed <= 2, `expected 1-2 new chunks, got ${changed}`);
    // The chunks after the insert are exactly the old ones (same tail).
    assert.deepEqual(after.slice(-10), before.slice(-10));
  });

  it('cuts exactly where the reference algorithm cuts, for any split of the input (pieces of 1 byte to 1 MiB)', async () => {
    const data = Buffer.concat([await syntheticBuffer(3 * 1024 * 1024, 14), randomBytes(1024 * 1024), Buffer.alloc(700 * 1024)]);
    const expected = referenceBoundaries(data, gear);
    assert.ok(expected.length > 20, 'the input must span many chunks');
    for (const piece of [1, 13, 4096, 16 * 1024, 65_537, 300_000, 1 << 20]) {
      const input = piece === 1 ? data.subarray(0, 400 * 1024) : data;
      const want = piece === 1 ? referenceBoundaries(input, gear) : expected;
      const got = chunk(input, gear, piece);
      assert.deepEqual(got.map((c) => c.length), want, `split into pieces of ${piece} bytes`);
      assert.ok(Buffer.concat(got).equals(input));
      for (const c of got) assert.equal(c.byteLength, c.buffer.byteLength, 'each chunk owns its memory (transferable)');
    }
    // A run of one byte value (the hash settles on a constant: cut at max or at the first match, never in between).
    assert.deepEqual(chunk(Buffer.alloc(TEST_CHUNKS.max * 2 + 5), gear).map((c) => c.length), referenceBoundaries(Buffer.alloc(TEST_CHUNKS.max * 2 + 5), gear));
  });

  it('a different gear table (another repository) gives different boundaries', async () => {
    const data = await syntheticBuffer(2 * 1024 * 1024, 13);
    const a = chunk(data, gear).map((c) => c.length);
    const b = chunk(data, gearTable(randomBytes(1024))).map((c) => c.length);
    assert.notDeepEqual(a, b);
  });
});
