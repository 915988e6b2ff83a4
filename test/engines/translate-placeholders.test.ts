import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translatePlaceholders } from '../../src/engines/postgres/translate-placeholders.js';

/** [input, expected text, expected placeholder count (-1 = passed through untouched)] */
const CASES: [string, string, number][] = [
  ['SELECT * FROM users WHERE active = ?', 'SELECT * FROM users WHERE active = $1', 1],
  ['UPDATE t SET a = ?, b = ? WHERE id = ?', 'UPDATE t SET a = $1, b = $2 WHERE id = $3', 3],
  ['SELECT 1', 'SELECT 1', -1],
  // literals
  ["SELECT '?' AS q, ? AS p", "SELECT '?' AS q, $1 AS p", 1],
  ["SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , $1", 1],
  ["SELECT E'a\\'?' , ?", "SELECT E'a\\'?' , $1", 1],
  ["SELECT e'\\\\', ?", "SELECT e'\\\\', $1", 1],
  // a standard string ending in a backslash is not an escape
  ["SELECT 'C:\\', ?", "SELECT 'C:\\', $1", 1],
  // quoted identifiers
  ['SELECT "what?" FROM t WHERE x = ?', 'SELECT "what?" FROM t WHERE x = $1', 1],
  ['SELECT "a""?b" , ?', 'SELECT "a""?b" , $1', 1],
  // comments
  ['SELECT ? -- why?\n, ?', 'SELECT $1 -- why?\n, $2', 2],
  ['SELECT /* what? /* nested? */ still? */ ?', 'SELECT /* what? /* nested? */ still? */ $1', 1],
  // dollar quotes
  ['SELECT $$?$$, ?', 'SELECT $$?$$, $1', 1],
  ['DO $body$ BEGIN PERFORM 1 WHERE 1 = ?; END $body$; SELECT ?', 'DO $body$ BEGIN PERFORM 1 WHERE 1 = ?; END $body$; SELECT $1', 1],
  ['SELECT $a$ $b$ ? $b$ $a$, ?', 'SELECT $a$ $b$ ? $b$ $a$, $1', 1],
  // jsonb operators, escaped as ??
  ["SELECT data ?? 'k' FROM t WHERE id = ?", "SELECT data ? 'k' FROM t WHERE id = $1", 1],
  ["SELECT data ??| array['a'], data ??& array['b'] FROM t WHERE id = ?", "SELECT data ?| array['a'], data ?& array['b'] FROM t WHERE id = $1", 1],
  // casts
  ['SELECT ?::int, ?::text[]', 'SELECT $1::int, $2::text[]', 2],
  // identifiers containing $ are not parameters or dollar quotes
  ['SELECT a$1, ? FROM t$x', 'SELECT a$1, $1 FROM t$x', 1],
  // $n statements pass through untouched, including ? operators
  ["SELECT data ? 'k' FROM t WHERE id = $1", "SELECT data ? 'k' FROM t WHERE id = $1", -1],
  ['SELECT $1::int', 'SELECT $1::int', -1],
  // unterminated constructs do not throw; the server reports them
  ["SELECT 'open ?", "SELECT 'open ?", 0],
];

describe('translatePlaceholders', () => {
  for (const [input, text, count] of CASES) {
    it(JSON.stringify(input), () => {
      const out = translatePlaceholders(input);
      assert.equal(out.text, text);
      assert.equal(out.placeholders, count);
    });
  }

  it('returns the same result from its cache', () => {
    const sql = 'SELECT ? AS cached';
    assert.deepEqual(translatePlaceholders(sql), translatePlaceholders(sql));
  });
});
