import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATAKEEP_XA_FORMAT_ID, datakeepXid, parseDatakeepXid, xidFromRecoverRow, xidSql } from '../../src/engines/mariadb/mariadb-xid.js';
import { normalizeMariadbResult, safeInteger } from '../../src/engines/mariadb/normalize-mariadb-result.js';
import { countMariadbPlaceholders } from '../../src/engines/mariadb/prepare-mariadb-statement.js';
import { splitMariadbScript } from '../../src/engines/mariadb/split-mariadb-script.js';

describe('mariadb SQL text and xids (pure logic)', () => {
  it('counts only the ? the driver binds', () => {
    const cases: [string, number][] = [
      ['SELECT ?', 1],
      ['SELECT ?, ?', 2],
      ["SELECT '?', ?", 1],
      ["SELECT 'it''s ?', ?", 1],
      ["SELECT 'a\\'?', ?", 1],
      ['SELECT "?", ?', 1],
      ['SELECT `a?b`, ?', 1],
      ['SELECT ? /* ? */, ?', 2],
      ['SELECT ? # ?\n, ?', 2],
      ['SELECT ? -- ?\n, ?', 2],
      ['SELECT 1--?', 1], // "--" followed by a non-space is an operator pair, not a comment
      ['SELECT ?', 1],
      ["SELECT '?", 0], // unterminated literal: the rest is literal
    ];
    for (const [sql, expected] of cases) assert.equal(countMariadbPlaceholders(sql), expected, sql);
  });

  it('splits scripts like the mariadb client, with DELIMITER', () => {
    assert.deepEqual(splitMariadbScript("INSERT INTO t VALUES ('a;b'); /* ; */ SELECT 1 -- ;\n; # only a comment ;\n"), ["INSERT INTO t VALUES ('a;b')", '/* ; */ SELECT 1 -- ;']);
    assert.deepEqual(splitMariadbScript('DELIMITER //\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END//\nDELIMITER ;\nSELECT 2;'), [
      'CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END',
      'SELECT 2',
    ]);
    assert.deepEqual(splitMariadbScript('/*!40101 SET NAMES utf8mb4 */;'), ['/*!40101 SET NAMES utf8mb4 */']);
    assert.deepEqual(splitMariadbScript('  -- nothing\n  '), []);
  });

  it('BIGINT becomes a number only when exact', () => {
    assert.equal(safeInteger(9007199254740991n), 9007199254740991);
    assert.equal(safeInteger(-9007199254740991n), -9007199254740991);
    assert.equal(safeInteger(9007199254740992n), '9007199254740992');
    assert.equal(safeInteger(-9007199254740992n), '-9007199254740992');
    assert.deepEqual(normalizeMariadbResult({ affectedRows: 1, insertId: 18446744073709551615n, warningStatus: 0 }), { rows: [], rowCount: 1, insertId: '18446744073709551615', warningStatus: 0 });
  });

  it('datakeep xids encode node, global id and branch, and parse back; foreign ones do not parse', () => {
    const xid = datakeepXid({ nodeId: 'node-1', globalId: '0190a5b2-7c4e-7000-8000-000000000001', branch: 'pg:orders' });
    assert.equal(xid.formatId, DATAKEEP_XA_FORMAT_ID);
    assert.deepEqual(parseDatakeepXid(xid), { nodeId: 'node-1', globalId: '0190a5b2-7c4e-7000-8000-000000000001', branch: 'pg:orders' });
    assert.equal(xidSql(xid), `X'${Buffer.from('node-1:0190a5b2-7c4e-7000-8000-000000000001').toString('hex')}',X'${Buffer.from('pg:orders').toString('hex')}',${DATAKEEP_XA_FORMAT_ID}`);
    assert.equal(parseDatakeepXid({ ...xid, formatId: 1 }), undefined);
    assert.equal(parseDatakeepXid({ ...xid, gtrid: Buffer.from([0xff, 0x3a, 0x41]) }), undefined, 'invalid UTF-8 is not ours');
    // A 64-byte gtrid is the limit, 65 is refused.
    assert.equal(datakeepXid({ nodeId: 'n', globalId: 'g'.repeat(62), branch: 'b'.repeat(64) }).gtrid.length, 64);
    assert.throws(() => datakeepXid({ nodeId: 'n', globalId: 'g'.repeat(63), branch: 'b' }), /at most 64/);
    assert.throws(() => datakeepXid({ nodeId: 'n', globalId: 'g', branch: 'b'.repeat(65) }), /at most 64/);
  });

  it('parses XA RECOVER rows, whose data is gtrid followed by bqual', () => {
    const xid = xidFromRecoverRow({ formatID: 7, gtrid_length: 2, bqual_length: 1, data: Buffer.from([0x00, 0xff, 0x41]) });
    assert.deepEqual({ formatId: xid.formatId, gtrid: [...xid.gtrid], bqual: [...xid.bqual] }, { formatId: 7, gtrid: [0x00, 0xff], bqual: [0x41] });
  });
});
