const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

/**
 * Whether `key` matches the glob-style `pattern` as Redis matches them (KEYS, SCAN MATCH): byte by byte, `*` any
 * bytes, `?` one byte, `[abc]`, `[^a]`, `[a-z]` classes, and `\` escaping the next byte.
 */
export function matchRedisPattern(pattern: string | Buffer, key: string | Buffer): boolean {
  const p = typeof pattern === 'string' ? Buffer.from(pattern, 'utf8') : pattern;
  const s = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return matchFrom(p, 0, s, 0);
}

function matchFrom(p: Buffer, pi: number, s: Buffer, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === STAR) {
      while (p[pi + 1] === STAR) pi += 1;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k += 1) if (matchFrom(p, pi + 1, s, k)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === QUESTION) {
      pi += 1;
      si += 1;
      continue;
    }
    if (c === OPEN) {
      const { matched, next } = matchClass(p, pi + 1, s[si]!);
      if (!matched) return false;
      pi = next;
      si += 1;
      continue;
    }
    const literal = c === BACKSLASH && pi + 1 < p.length ? p[(pi += 1)]! : c;
    if (literal !== s[si]) return false;
    pi += 1;
    si += 1;
  }
  return si === s.length;
}

/** A `[...]` class starting after its `[`: whether `byte` is in it, and where the pattern goes on after its `]`. */
function matchClass(p: Buffer, start: number, byte: number): { matched: boolean; next: number } {
  let i = start;
  const negate = p[i] === CARET;
  if (negate) i += 1;
  let matched = false;
  while (i < p.length && p[i] !== CLOSE) {
    if (p[i] === BACKSLASH && i + 1 < p.length) {
      i += 1;
      if (p[i] === byte) matched = true;
    } else if (p[i + 1] === DASH && i + 2 < p.length && p[i + 2] !== CLOSE) {
      const [low, high] = p[i]! <= p[i + 2]! ? [p[i]!, p[i + 2]!] : [p[i + 2]!, p[i]!];
      if (byte >= low && byte <= high) matched = true;
      i += 2;
    } else if (p[i] === byte) {
      matched = true;
    }
    i += 1;
  }
  // An unclosed class ends the pattern, as in Redis.
  return { matched: negate ? !matched : matched, next: i < p.length ? i + 1 : i };
}
