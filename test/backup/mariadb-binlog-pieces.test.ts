import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { walkEvents, lastTransactionEnd, BINLOG_MAGIC } from '../../src/engines/mariadb/backup/binlog-events.js';
import { archivedRun, pieceName, piecesByFile } from '../../src/engines/mariadb/backup/binlog-pieces.js';

/** A binlog event header (19 bytes) plus `body` zero bytes. */
function event(type: number, timestamp: number, body = 8): Buffer {
  const out = Buffer.alloc(19 + body);
  out.writeUInt32LE(timestamp, 0);
  out.writeUInt8(type, 4);
  out.writeUInt32LE(19 + body, 9);
  return out;
}

describe('binlog pieces: the archived run and its gaps (from names alone)', () => {
  const run = (names: string[], from: number) => archivedRun(piecesByFile(names), from);

  it('follows contiguous pieces across ended files to the newest piece', () => {
    const result = run([pieceName(3, 0, 100, false), pieceName(3, 100, 250, true), pieceName(4, 0, 90, false)], 3);
    assert.equal(result.gap, undefined);
    assert.deepEqual(result.pieces.map((p) => [p.seq, p.start, p.end]), [[3, 0, 100], [3, 100, 250], [4, 0, 90]]);
  });

  it('an empty final piece ends a file seen rotated only after its last bytes were archived (a server restart)', () => {
    const result = run([pieceName(3, 0, 100, false), pieceName(3, 100, 100, true), pieceName(4, 0, 90, false)], 3);
    assert.equal(result.gap, undefined);
    assert.deepEqual(result.pieces.map((p) => [p.seq, p.start, p.end]), [[3, 0, 100], [4, 0, 90]]);
  });

  it('stops at a missing byte range, a file that never ended, and a missing file number', () => {
    assert.match(run([pieceName(3, 0, 100, false), pieceName(3, 120, 250, true)], 3).gap!.missing, /bytes 100\.\.120 of binlog file 3/);
    assert.match(run([pieceName(3, 0, 100, false), pieceName(4, 0, 50, false)], 3).gap!.missing, /end of binlog file 3/);
    const missingFile = run([pieceName(3, 0, 100, true), pieceName(5, 0, 50, false)], 3);
    assert.match(missingFile.gap!.missing, /binlog file 4/);
    assert.equal(missingFile.gap!.laterPieces, 1);
    assert.equal(missingFile.pieces.length, 1);
  });

  it('ignores names that are not binlog pieces', () => {
    assert.equal(run(['000000010000000000000001', pieceName(7, 0, 10, false)], 7).pieces.length, 1);
  });
});

describe('binlog events: headers walked, the last transaction end found', () => {
  it('walks whole events after the magic and stops before a partial one', () => {
    const file = Buffer.concat([BINLOG_MAGIC, event(15, 100), event(162, 200), event(16, 201), event(2, 300).subarray(0, 10)]);
    const { events, consumed } = walkEvents(file, 0);
    assert.deepEqual(events.map((e) => [e.type, e.timestamp]), [[15, 100], [162, 200], [16, 201]]);
    assert.equal(consumed, 4 + 27 * 3);
    assert.equal(lastTransactionEnd(events), 201);
  });

  it('refuses bytes that are not a binlog', () => {
    assert.throws(() => walkEvents(Buffer.from('not a binlog at all, really'), 0), /not a binlog file/);
  });
});
