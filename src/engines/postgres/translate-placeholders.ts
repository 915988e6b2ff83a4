/**
 * Translates `?` placeholders (the seed's style) into PostgreSQL's `$1, $2, ...`.
 *
 * Rules (docs/adapters.md):
 * - a `?` inside a string literal ('...', E'...'), a quoted identifier ("..."), a comment (-- and nested /* *\/) or a
 *   dollar-quoted body ($$...$$, $tag$...$tag$) is left alone;
 * - `??` outside those is a literal `?`, which is how the jsonb operators are written: `??`, `??|`, `??&`;
 * - a statement that already uses `$n` placeholders passes through untouched (there `?` means the operator).
 *
 * Returns the text to send and how many placeholders it has (`-1` when it was passed through).
 */
export interface TranslatedStatement {
  readonly text: string;
  readonly placeholders: number;
}

const cache = new Map<string, TranslatedStatement>();
const CACHE_LIMIT = 1000;

export function translatePlaceholders(sql: string): TranslatedStatement {
  // Fast path: most statements on hot paths have no `?` at all.
  if (!sql.includes('?')) return { text: sql, placeholders: -1 };
  const hit = cache.get(sql);
  if (hit) return hit;
  const result = scan(sql);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(sql, result);
  return result;
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

function scan(sql: string): TranslatedStatement {
  let out = '';
  let n = 0;
  let usesDollarParams = false;
  let i = 0;
  const len = sql.length;
  while (i < len) {
    const c = sql[i]!;
    const next = sql[i + 1];
    // Line comment.
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? len : end + 1;
      out += sql.slice(i, stop);
      i = stop;
      continue;
    }
    // Block comment; PostgreSQL nests them.
    if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < len && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth += 1;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth -= 1;
          j += 2;
        } else j += 1;
      }
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    // String literal; E'' strings honour backslash escapes, standard strings only ''.
    if (c === "'") {
      const escapeString = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdentChar(sql[i - 2]);
      let j = i + 1;
      while (j < len) {
        if (escapeString && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j += 1;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    // Quoted identifier.
    if (c === '"') {
      let j = i + 1;
      while (j < len) {
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j += 1;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '$' && !isIdentChar(sql[i - 1])) {
      // $n positional parameter.
      const param = /^\$\d+/.exec(sql.slice(i, i + 12));
      if (param) {
        usesDollarParams = true;
        out += param[0];
        i += param[0].length;
        continue;
      }
      // Dollar-quoted body: $tag$ ... $tag$ (tag may be empty).
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end === -1 ? len : end + tag[0].length;
        out += sql.slice(i, stop);
        i = stop;
        continue;
      }
    }
    if (c === '?') {
      if (next === '?') {
        out += '?';
        i += 2;
        continue;
      }
      n += 1;
      out += `$${n}`;
      i += 1;
      continue;
    }
    out += c;
    i += 1;
  }
  if (usesDollarParams) return { text: sql, placeholders: -1 };
  return { text: out, placeholders: n };
}
