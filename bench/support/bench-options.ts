/**
 * Benchmark knobs from command-line flags (`--rounds=8` or `--rounds 8`) and environment variables
 * (`DK_BENCH_ROUNDS=8`); a flag wins over the environment, both win over the default. Unknown flags and bad values
 * throw, so a typo never silently runs the default workload and gets reported as a figure.
 */
export interface OptionSpec<T> {
  /** Flag name without dashes, e.g. `rounds`. */
  readonly flag: string;
  /** Environment variable, e.g. `DK_BENCH_ROUNDS`. */
  readonly env: string;
  readonly default: T;
  readonly help: string;
}

export class BenchOptionError extends Error {
  override readonly name = 'BenchOptionError';
}

export class BenchOptions {
  readonly #flags = new Map<string, string>();
  readonly #specs: OptionSpec<unknown>[] = [];
  readonly #env: NodeJS.ProcessEnv;
  readonly helpRequested: boolean;

  constructor(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env) {
    this.#env = env;
    let help = false;
    for (let i = 0; i < argv.length; i += 1) {
      const arg = argv[i]!;
      if (arg === '--help' || arg === '-h') {
        help = true;
        continue;
      }
      const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
      if (!match) throw new BenchOptionError(`argument "${arg}" is not a flag; write --name=value (see --help)`);
      const value = match[2] ?? argv[i + 1];
      if (value === undefined) throw new BenchOptionError(`flag --${match[1]} has no value; write --${match[1]}=VALUE`);
      if (match[2] === undefined) i += 1;
      this.#flags.set(match[1]!, value);
    }
    this.helpRequested = help;
  }

  /** A positive integer (underscores allowed: `50_000`). */
  int(spec: OptionSpec<number> & { readonly min?: number }): number {
    const raw = this.#raw(spec);
    if (raw === undefined) return spec.default;
    const value = Number(raw.source.replaceAll('_', ''));
    const min = spec.min ?? 1;
    if (!Number.isInteger(value) || value < min) {
      throw new BenchOptionError(`${raw.origin} is "${raw.source}"; expected an integer >= ${min}`);
    }
    return value;
  }

  string(spec: OptionSpec<string>): string {
    return this.#raw(spec)?.source ?? spec.default;
  }

  /** A comma-separated subset of `allowed`, e.g. `--workloads=select-int,rows-100`. */
  list<T extends string>(spec: OptionSpec<readonly T[]> & { readonly allowed: readonly T[] }): T[] {
    const raw = this.#raw(spec);
    if (raw === undefined) return [...spec.default];
    const items = raw.source.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = items.filter((s) => !(spec.allowed as readonly string[]).includes(s));
    if (items.length === 0 || unknown.length > 0) {
      throw new BenchOptionError(`${raw.origin} is "${raw.source}"; expected a comma-separated list of: ${spec.allowed.join(', ')}`);
    }
    return items as T[];
  }

  /** Throws on flags no option asked for; call after reading every option. */
  assertNoUnknownFlags(): void {
    const known = new Set(this.#specs.map((s) => s.flag));
    const unknown = [...this.#flags.keys()].filter((f) => !known.has(f));
    if (unknown.length > 0) {
      throw new BenchOptionError(`unknown flag(s): ${unknown.map((f) => `--${f}`).join(', ')}; known: ${[...known].map((f) => `--${f}`).join(', ')}`);
    }
  }

  /** One line per option read so far: flag, env var, default, help. */
  usage(): string {
    return this.#specs
      .map((s) => `  --${s.flag}=…  (${s.env}, default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)})  ${s.help}`)
      .join('\n');
  }

  #raw(spec: OptionSpec<unknown>): { source: string; origin: string } | undefined {
    this.#specs.push(spec);
    const flag = this.#flags.get(spec.flag);
    if (flag !== undefined) return { source: flag, origin: `--${spec.flag}` };
    const env = this.#env[spec.env];
    if (env !== undefined && env !== '') return { source: env, origin: spec.env };
    return undefined;
  }
}
