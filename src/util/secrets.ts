/**
 * Secrets are recognised by where they sit, never by their text: a field whose name says it holds one (`password`,
 * `passphrase`, `sentinelPassword`, `token`, ...) and the password of a URL (`scheme://user:PASSWORD@host`). Searching
 * output for a known secret's text would also rewrite every other word that happens to contain it (the password
 * `postgres` inside `postgresql`) and, by what it replaces, tell the secret.
 */
export const REDACTED = '[redacted]';

/** Field names holding a secret wherever they appear; `passwordFile` and `passphraseFile` (paths) do not match. */
const SECRET_KEY = /(?:^|[-_.])(?:pass|pwd)$|(?:password|passphrase|passwd|secret|token|apikey|api_key|privatekey|private_key|authorization|credentials?)s?$/i;

/** Field names that pino's `redact` censors at the top level and up to three levels down. */
export const SECRET_FIELDS: readonly string[] = [
  'password', 'passphrase', 'newPassphrase', 'sentinelPassword', 'secret', 'token', 'accessToken', 'refreshToken',
  'apiKey', 'authorization', 'privateKey', 'credentials',
];

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/\s]+)@/gi;

/** `scheme://user:pass@host` becomes `scheme://user:[redacted]@host`; nothing else in `text` changes. Never throws. */
export function redactUrlPasswords(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_PASSWORD, `$1${REDACTED}@`);
}

const MAX_DEPTH = 8;

/**
 * A copy of `value` safe to log or print: secret fields replaced by `[redacted]`, URL passwords in every string
 * redacted, errors reduced to `{name, message, code}` (a driver's error object can hold its connection options), Maps
 * as objects, bigints as strings, objects with `toJSON` as what it returns. Non-enumerable properties (a resolved
 * config's `password`) are never read.
 */
export function redactValue(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactUrlPasswords(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return { name: value.name, message: redactUrlPasswords(value.message), ...(code === undefined ? {} : { code: walk(code, depth + 1, seen) }) };
    }
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    // What JSON would print (a URL object's href, a Buffer's bytes), redacted like the rest.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(value), depth + 1, seen);
    const entries = value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
    const out: Record<string, unknown> = {};
    for (const [key, item] of entries) out[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : walk(item, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}
