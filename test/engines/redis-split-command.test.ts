import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors/index.js';
import { toRedisArguments } from '../../src/engines/redis/redis-command.js';
import { splitCommandLine } from '../../src/engines/redis/split-command-line.js';

const B = (...bytes: number[]) => Buffer.from(bytes);

/** [line, expected arguments], following redis-cli's sdssplitargs. */
const CASES: [string, (string | Buffer)[]][] = [
  ['GET user:123', ['GET', 'user:123']],
  ['  SET   k    v  ', ['SET', 'k', 'v']],
  ['SET k\tv\r\n', ['SET', 'k', 'v']],
  // double quotes and their escapes
  ['SET k "hello world"', ['SET', 'k', 'hello world']],
  ['SET k "a\\nb\\rc\\td\\be\\af"', ['SET', 'k', 'a\nb\rc\td\be\x07f']],
  ['SET k "back\\\\slash \\"quoted\\""', ['SET', 'k', 'back\\slash "quoted"']],
  ['SET k "\\q\\z"', ['SET', 'k', 'qz']],
  ['SET k "\\x41\\x62"', ['SET', 'k', 'Ab']],
  // \x needs two hex digits, otherwise it is a plain escaped x
  ['SET k "\\x4"', ['SET', 'k', 'x4']],
  ['SET k "\\xZZ"', ['SET', 'k', 'xZZ']],
  // binary-safe: NUL and high bytes
  ['SET k "a\\x00b"', ['SET', 'k', 'a\u0000b']],
  ['SET k "\\xff\\xfe\\x00"', ['SET', 'k', B(0xff, 0xfe, 0x00)]],
  ['SET k "é\\xff"', ['SET', 'k', B(0xc3, 0xa9, 0xff)]],
  ['SET k "\\xffé"', ['SET', 'k', B(0xff, 0xc3, 0xa9)]],
  // single quotes: only \' is an escape
  ["SET k 'it\\'s'", ['SET', 'k', "it's"]],
  ["SET k 'a\\nb \"c\"'", ['SET', 'k', 'a\\nb "c"']],
  // empty arguments
  ['SET k ""', ['SET', 'k', '']],
  ["SET k ''", ['SET', 'k', '']],
  ['HSET h "" ""', ['HSET', 'h', '', '']],
  // a quote opens in the middle of a word, as in redis-cli
  ['SET k a"b c"', ['SET', 'k', 'ab c']],
  ['SET key:"with space"', ['SET', 'key:with space']],
  // unicode passes through as text
  ['SET clé 値', ['SET', 'clé', '値']],
];

/** Lines redis-cli refuses ("Invalid argument(s)"). */
const INVALID: [string, RegExp][] = [
  ['SET k "open', /unbalanced double quotes/],
  ["SET k 'open", /unbalanced single quotes/],
  ['SET k "trailing\\', /unbalanced double quotes/],
  ['SET k "a"b', /must be followed by a space/],
  ["SET k 'a'b", /must be followed by a space/],
  ['', /is empty/],
  ['   \t ', /is empty/],
];

describe('splitCommandLine', () => {
  for (const [line, expected] of CASES) {
    it(JSON.stringify(line), () => {
      assert.deepEqual(splitCommandLine(line), expected);
    });
  }
  for (const [line, message] of INVALID) {
    it(`refuses ${JSON.stringify(line)}`, () => {
      assert.throws(() => splitCommandLine(line), (error: unknown) => error instanceof UsageError && error.argument === 'command' && message.test(error.message));
    });
  }
});

describe('toRedisArguments', () => {
  it('appends params after the line, as text for numbers and bigints, bytes for Buffers', () => {
    assert.deepEqual(toRedisArguments('SET user:1', ['{"a": "b c"}']), ['SET', 'user:1', '{"a": "b c"}']);
    assert.deepEqual(toRedisArguments(['INCRBY', 'n'], [5]), ['INCRBY', 'n', '5']);
    assert.deepEqual(toRedisArguments(['SET', 'n', 10n ** 20n]), ['SET', 'n', '100000000000000000000']);
    assert.deepEqual(toRedisArguments(['SET', 'b', B(0, 255)]), ['SET', 'b', B(0, 255)]);
    assert.deepEqual(toRedisArguments(['SET', 'u', new Uint8Array([1, 2])]), ['SET', 'u', B(1, 2)]);
  });

  for (const [label, command, params, argument] of [
    ['an empty array', [], undefined, 'command'],
    ['an object argument', ['SET', 'k', { a: 1 }], undefined, 'command[2]'],
    ['a null argument', ['SET', 'k', null], undefined, 'command[2]'],
    ['NaN', ['SET', 'k', Number.NaN], undefined, 'command[2]'],
    ['an empty command name', ['', 'k'], undefined, 'command'],
    ['an object param', 'SET k', [{}], 'params[0]'],
    ['params that are not an array', 'SET k', 'v', 'params'],
    ['a number as the command', 42, undefined, 'command'],
    ['null as the command', null, undefined, 'command'],
  ] as [string, unknown, unknown, string][]) {
    it(`refuses ${label} with a UsageError naming ${argument}`, () => {
      assert.throws(
        () => toRedisArguments(command as string, params as unknown[]),
        (error: unknown) => error instanceof UsageError && error.argument === argument,
      );
    });
  }
});
