import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { EofMarkedPayload } from '../../src/engines/redis/backup/eof-marked-payload.js';

/** Feeds `wire` to a fresh parser in pieces of the given sizes (cycled); returns the payload and what followed. */
function feed(mark: Buffer, wire: Buffer, sizes: readonly number[]): { payload: Buffer; after: Buffer | undefined; pieces: number } {
  const parser = new EofMarkedPayload(mark);
  const out: Buffer[] = [];
  let after: Buffer | undefined;
  let at = 0;
  for (let i = 0; at < wire.length && after === undefined; i++) {
    const size = sizes[i % sizes.length]!;
    const result = parser.push(wire.subarray(at, at + size));
    out.push(...result.payload);
    after = result.after;
    at += size;
  }
  // What followed the mark: the rest of the read that held it, then the reads not fed.
  return { payload: Buffer.concat(out), after: after === undefined ? undefined : Buffer.concat([after, wire.subarray(at)]), pieces: out.length };
}

describe('redis replication: the EOF-marked RDB payload of a diskless master', () => {
  const mark = Buffer.from(randomBytes(20).toString('hex'), 'latin1');
  const body = randomBytes(300_000);
  const stream = Buffer.from('*1\r\n$4\r\nPING\r\n');
  const wire = Buffer.concat([body, mark, stream]);

  it('returns the payload exactly and the bytes after the mark, however the reads split the mark', () => {
    const splits: number[][] = [[wire.length], [1], [7], [39], [40], [41], [16_384], [65_536, 3], [39, 1, 40, 17], [100_000, 199_990, 5, 60]];
    // Every way the mark can straddle two reads: a read ending at each byte of the mark.
    for (let cut = body.length - 2; cut <= body.length + mark.length + 1; cut++) splits.push([cut, 1 << 20]);
    for (const sizes of splits) {
      const result = feed(mark, wire, sizes);
      assert.ok(result.payload.equals(body), `payload differs for reads of ${sizes.join(',')}`);
      assert.ok(result.after?.equals(stream), `bytes after the mark differ for reads of ${sizes.join(',')}`);
    }
  });

  it('passes large reads on as views of themselves (no copy), holding back only the bytes that may begin the mark', () => {
    const parser = new EofMarkedPayload(mark);
    const read = Buffer.from(body.subarray(0, 65_536));
    const { payload, after } = parser.push(read);
    assert.equal(after, undefined);
    assert.equal(payload.length, 1);
    assert.equal(payload[0]!.buffer, read.buffer, 'the payload is a view of the read');
    assert.equal(payload[0]!.length, read.length - (mark.length - 1));
    assert.equal(parser.done, false);
  });

  it('refuses data once the mark was read, and a payload that is only the mark is empty', () => {
    const parser = new EofMarkedPayload(mark);
    const { payload, after } = parser.push(Buffer.concat([mark, stream]));
    assert.equal(Buffer.concat(payload).length, 0);
    assert.ok(after?.equals(stream));
    assert.equal(parser.done, true);
    assert.throws(() => parser.push(Buffer.from('x')), /already returned/);
  });
});
