import { ConfigurationError } from '../errors/index.js';
import { isSecretKey } from '../util/secrets.js';

/** Small typed readers used by every config validator, so that all messages share one wording. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export function optionalString(obj: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    // A secret field's value is never echoed, whatever its type.
    throw new ConfigurationError(`${path}.${key}`, `expected a string, got ${isSecretKey(key) ? typeof value : describe(value)}`, `Write ${key} as a string`);
  }
  return value;
}

export function optionalBoolean(obj: Record<string, unknown>, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') {
    throw new ConfigurationError(`${path}.${key}`, `expected true or false, got ${describe(value)}`, `Write ${key}: true or ${key}: false`);
  }
  return value;
}

export function optionalInteger(
  obj: Record<string, unknown>,
  key: string,
  path: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
  unit = '',
): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ConfigurationError(`${path}.${key}`, `expected an integer, got ${describe(value)}`, `Use an integer ${range}${unit}`);
  }
  if (value < min || value > max) {
    throw new ConfigurationError(`${path}.${key}`, `${value} is out of range`, `Use an integer ${range}${unit}`);
  }
  return value;
}

export function rejectUnknownKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const near = closest(key, allowed);
      throw new ConfigurationError(
        `${path}.${key}`,
        'is not a known field',
        near ? `Did you mean "${near}"?` : `Known fields: ${allowed.join(', ')}`,
      );
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The allowed key closest to a typo (case, separators, or up to two edits), for "did you mean" hints. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = norm(candidate) === norm(key) ? 0 : editDistance(norm(candidate), norm(key));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
