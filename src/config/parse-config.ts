import type { z } from 'zod';
import { ConfigurationError, UsageError } from '../errors/index.js';
import { describeValue } from './describe-value.js';

/** Between the problem and the fix in an issue's message; a control character no problem text contains. */
const SEPARATOR = '\u001f';

/**
 * The message of a configuration issue, for zod `error` callbacks and refinements: what is wrong, then how to fix it.
 * parseConfig splits it again into a ConfigurationError's `problem` and `fix`.
 */
export function hint(problem: string, fix: string): string {
  return `${problem}${SEPARATOR}${fix}`;
}

/** `databases` + [1, 'port'] -> `databases[1].port`; an empty base gives `logLevel`, not `.logLevel`. */
export function configPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * The one place where zod issues become ConfigurationErrors: the field is the issue's path below `base` (an unknown
 * key is named itself, not its object), the problem and fix come from the schema's `hint`. Issues a schema raised
 * without a hint (none should) still name the field and the value.
 */
export function configurationError(issue: z.core.$ZodIssue, base: string): ConfigurationError {
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const field = configPath(base, path) || 'config';
  const at = issue.message.indexOf(SEPARATOR);
  if (at >= 0) return new ConfigurationError(field, issue.message.slice(0, at), issue.message.slice(at + SEPARATOR.length));
  const got = 'input' in issue ? `, got ${describeValue(issue.input)}` : '';
  return new ConfigurationError(field, `${issue.message}${got}`, 'See docs/configuration.md for the fields and their values');
}

/**
 * Validates `input` against a configuration schema and returns its output (defaults filled in), or throws the
 * ConfigurationError of the first issue, named below `base`. An unknown key is reported before anything else: a
 * misspelt field usually explains the other issues (a "missing" field that is only misspelt).
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, base: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues;
  throw configurationError(issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!, base);
}

/**
 * parseConfig for an argument given in code (`transactions.configure(options)`): the same schema and wording, as a
 * UsageError naming the argument's path.
 */
export function parseArgument<S extends z.ZodType>(schema: S, input: unknown, base: string): z.output<S> {
  try {
    return parseConfig(schema, input, base);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new UsageError(error.field, `${error.problem}. ${error.fix}`, { cause: error });
  }
}
