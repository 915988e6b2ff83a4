import { z } from 'zod';
import { closestName } from './closest-name.js';
import { describeValue } from './describe-value.js';
import { isSecretKey } from '../util/secrets.js';
import { hint } from './parse-config.js';

/**
 * Builders for configuration schemas. Each carries the wording of its errors (what is wrong, how to fix it), so that
 * every section says "expected an integer, got ..." / "... is out of range. Use an integer between 1 and 65535" the
 * same way. A missing required value reads "is missing".
 */
type Issue = z.core.$ZodRawIssue;

/** The field an issue is about (its last key, with any index after it), for fixes such as "Write host as a string". */
function keyOf(issue: Issue): string {
  const path = issue.path ?? [];
  let at = path.length - 1;
  while (at >= 0 && typeof path[at] === 'number') at -= 1;
  if (at < 0) return 'it';
  return String(path[at]) + path.slice(at + 1).map((i) => `[${String(i)}]`).join('');
}

const missing = (issue: Issue, fix: string): string | undefined => (issue.input === undefined ? hint('is missing', fix) : undefined);

/** A value's type alone, for a secret field: its value is never echoed, whatever its type. */
const typeOnly = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);

/** A string. `fix` replaces "Write KEY as a string". A field named like a secret (isSecretKey) never shows its value. */
export function text(fix?: string) {
  return z.string({
    error: (iss) => {
      const shown = isSecretKey(keyOf(iss)) ? typeOnly(iss.input) : describeValue(iss.input);
      return missing(iss, fix ?? `Give ${keyOf(iss)}`) ?? hint(`expected a string, got ${shown}`, fix ?? `Write ${keyOf(iss)} as a string`);
    },
  });
}

/** A string that is a secret whatever its field's name (a TLS client `key`): a wrong type is reported without the value. */
export function secretText() {
  return z.string({ error: (iss) => hint(`expected a string, got ${typeOnly(iss.input)}`, `Write ${keyOf(iss)} as a string`) });
}

/** A string with something in it besides spaces. */
export function nonEmptyText(fix: string) {
  return text(fix).refine((value) => value.trim() !== '', { error: () => hint('is empty', fix) });
}

export function flag() {
  return z.boolean({ error: (iss) => hint(`expected true or false, got ${describeValue(iss.input)}`, `Write ${keyOf(iss)}: true or ${keyOf(iss)}: false`) });
}

/** An integer in [min, max]; `unit` follows the range in the fix, e.g. " (milliseconds)". */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER, unit = '') {
  const fix = `Use an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`}${unit}`;
  return z
    .int({
      error: (iss) =>
        missing(iss, fix) ??
        (iss.code === 'too_small' || iss.code === 'too_big' ? hint(`${String(iss.input)} is out of range`, fix) : hint(`expected an integer, got ${describeValue(iss.input)}`, fix)),
    })
    .min(min)
    .max(max);
}

/** One of a few words; `noun` completes `"x" is not NOUN` (e.g. "a log level"). */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, noun: string, fix = `Use one of: ${values.join(', ')}`) {
  return z.enum(values, { error: (iss) => missing(iss, fix) ?? hint(`${describeValue(iss.input)} is not ${noun}`, fix) });
}

/**
 * An object with exactly these fields: an unknown one is an error with a "Did you mean" hint (a typo never falls back
 * to a default silently). `expected` names what was expected when the value is not an object.
 */
export function object<S extends z.core.$ZodLooseShape>(shape: S, fix: string, expected = 'an object') {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const near = closestName(iss.keys[0]!, known);
        return hint('is not a known field', near ? `Did you mean "${near}"?` : known.length ? `Known fields: ${known.join(', ')}` : 'Remove it: no fields are known here');
      }
      return missing(iss, fix) ?? hint(`expected ${expected}, got ${describeValue(iss.input)}`, fix);
    },
  });
}

/** An array of `item`; `expected` describes it, e.g. "an array of database ids". */
export function list<T extends z.ZodType>(item: T, fix: string, expected = 'an array') {
  return z.array(item, { error: (iss) => missing(iss, fix) ?? hint(`expected ${expected}, got ${describeValue(iss.input)}`, fix) });
}

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

/**
 * A value that may take several forms (ssl: true or {ca, ...}; a Redis db: 0 or "0"), told apart by its JSON type so
 * that an error comes from the form the user meant, not a list of every form's complaints.
 */
export function byKind<T>(forms: Partial<Record<Kind, z.ZodType<T>>>, expected: string, fix: string): z.ZodType<T> {
  return z.unknown().transform((value, ctx) => {
    const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    const form = forms[kind as Kind];
    if (form === undefined) {
      ctx.addIssue({ code: 'custom', message: value === undefined ? hint('is missing', fix) : hint(`expected ${expected}, got ${describeValue(value)}`, fix) });
      return z.NEVER;
    }
    return parseWithin(ctx, form, value, []);
  }) as unknown as z.ZodType<T>;
}

/**
 * Parses `value` with `schema` inside a transform, its issues reported at `path` below the transformed value: for a
 * part whose schema depends on a sibling (a retention policy whose time zone defaults to the section's).
 */
export function parseWithin<T>(ctx: z.core.$RefinementCtx, schema: z.ZodType<T>, value: unknown, path: PropertyKey[]): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: [...path, ...issue.path], input: undefined });
  return z.NEVER;
}

/** A refinement's issue at `path` below the refined value. */
export function issueAt(ctx: z.core.$RefinementCtx, path: PropertyKey[], problem: string, fix: string): void {
  ctx.addIssue({ code: 'custom', path, message: hint(problem, fix) });
}
