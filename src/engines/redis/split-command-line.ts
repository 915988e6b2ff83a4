import { UsageError } from '../../errors/index.js';

/** One argument of a Redis command: text, or bytes when the line spells a byte above 0x7f with `\xHH`. */
export type RedisArgument = string | Buffer;

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' };

/**
 * Splits a command line the way redis-cli does (its `sdssplitargs`), so that a line copied from redis-cli means the
 * same thing here:
 * - whitespace separates arguments; a quote may open in the middle of a word (`a"b c"` is one argument, `ab c`);
 * - in double quotes: `\n \r \t \b \a`, `\\`, `\"`, `\xHH` (a byte), any other `\c` is `c`;
 * - in single quotes everything is literal except `\'`;
 * - `""` and `''` are empty arguments; a closing quote must be followed by whitespace or the end of the line.
 * An argument that spells a byte above 0x7f with `\xHH` is returned as a Buffer (those bytes are not UTF-8 text);
 * every other argument is a string. Unbalanced quotes and an empty line are a UsageError.
 */
export function splitCommandLine(line: string): RedisArgument[] {
  if (typeof line !== 'string') throw new UsageError('command', `expected a string or an array, got ${line === null ? 'null' : typeof line}`);
  // Most lines (`GET user:123`) have no quotes or escapes: one scan that slices words gives the same result.
  const plain = splitPlain(line);
  if (plain !== undefined) {
    if (plain.length === 0) throw new UsageError('command', 'is empty; give a command such as "GET user:123"');
    return plain;
  }
  const out: RedisArgument[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    while (i < n && isSpace(line[i]!)) i += 1;
    if (i >= n) break;
    const arg = new ArgumentBuilder();
    let quote: '"' | "'" | undefined;
    let done = false;
    while (!done) {
      if (i >= n) {
        if (quote) throw unbalanced(line, quote);
        break;
      }
      const c = line[i]!;
      if (quote === '"') {
        if (c === '\\' && i + 3 < n && line[i + 1] === 'x' && isHex(line[i + 2]!) && isHex(line[i + 3]!)) {
          arg.byte(parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < n) {
          const next = line[i + 1]!;
          arg.text(SIMPLE_ESCAPES[next] ?? next);
          i += 1;
        } else if (c === '"') {
          if (i + 1 < n && !isSpace(line[i + 1]!)) throw quoteNotFollowedBySpace(line, i);
          done = true;
        } else {
          arg.text(c);
        }
      } else if (quote === "'") {
        if (c === '\\' && line[i + 1] === "'") {
          arg.text("'");
          i += 1;
        } else if (c === "'") {
          if (i + 1 < n && !isSpace(line[i + 1]!)) throw quoteNotFollowedBySpace(line, i);
          done = true;
        } else {
          arg.text(c);
        }
      } else if (isSpace(c)) {
        done = true;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else {
        arg.text(c);
      }
      i += 1;
    }
    out.push(arg.value());
  }
  if (out.length === 0) throw new UsageError('command', 'is empty; give a command such as "GET user:123"');
  return out;
}

/** Accumulates one argument as text, switching to bytes only when a high byte escape makes text impossible. */
class ArgumentBuilder {
  #text = '';
  #bytes: number[] | undefined;

  text(s: string): void {
    if (this.#bytes) for (const b of Buffer.from(s, 'utf8')) this.#bytes.push(b);
    else this.#text += s;
  }

  byte(b: number): void {
    if (b < 0x80 && !this.#bytes) {
      this.#text += String.fromCharCode(b);
      return;
    }
    this.#bytes ??= [...Buffer.from(this.#text, 'utf8')];
    this.#bytes.push(b);
  }

  value(): RedisArgument {
    return this.#bytes ? Buffer.from(this.#bytes) : this.#text;
  }
}

/** The words of a line without quotes or backslashes, or undefined when it has some (the full parser handles it). */
function splitPlain(line: string): string[] | undefined {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i += 1) {
    const code = line.charCodeAt(i);
    if (code === 0x22 || code === 0x27 || code === 0x5c) return undefined; // " ' \\
    const space = code === 0x20 || (code >= 0x09 && code <= 0x0d); // space, \t \n \v \f \r
    if (space) {
      if (start >= 0) words.push(line.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) words.push(line.slice(start));
  return words;
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\v' || c === '\f';
}

function isHex(c: string): boolean {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

function unbalanced(line: string, quote: string): UsageError {
  return new UsageError(
    'command',
    `unbalanced ${quote === '"' ? 'double' : 'single'} quotes in ${preview(line)}; close the quote${quote === '"' ? ', or write a literal " as \\"' : ", or write a literal ' as \\'"}`,
  );
}

function quoteNotFollowedBySpace(line: string, at: number): UsageError {
  return new UsageError('command', `a closing quote at position ${at} of ${preview(line)} must be followed by a space or the end of the line; separate the arguments with a space`);
}

function preview(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 77)}...` : line);
}
