import { z } from 'zod';
import type { DatabaseConfig, ResolvedDatabaseConfig } from './database-config.js';
import { parseConfig } from './parse-config.js';

/**
 * What an engine tells the configuration layer about its databases. Each engine keeps its own in
 * `engines/<engine>/<engine>-config.ts` and hands it over in its definition; the configuration layer asks these hooks
 * and never tests an engine's type.
 */
export interface EngineConfig<Settings = unknown> {
  /** The keys allowed in `options`; another key is an error with a "Did you mean" hint. */
  readonly optionKeys: readonly string[];
  /** How `database` is written for this engine (default: a non-empty name). Redis: a db index. */
  readonly database?: z.ZodType<string>;
  /** Engines that keep their data in a directory instead of a server (PGlite) resolve `dataDir`; the others refuse it. */
  readonly dataDir?: (dataDir: string | undefined) => string;
  /**
   * The engine's own rules over a resolved configuration (its `options`, fields that do not apply to it, combinations
   * of fields), returning the typed settings its adapter reads. `loadConfig` runs it for every database, and the
   * adapter's option builder runs it again (it never fails then), so `datakeep config check` refuses all the adapter
   * would.
   */
  readonly settings: z.ZodType<Settings>;
  readonly url?: EngineUrlHooks;
}

/** How the engine's URLs differ from `scheme://user:password@host:port/database?params`. */
export interface EngineUrlHooks {
  /** A URL with no `//authority` (`pglite:PATH`), read entirely by the engine. */
  readonly opaque?: (rest: string) => Partial<DatabaseConfig>;
  /**
   * The authority may list several hosts (`mongodb://a:1,b:2/db`). WHATWG URL parses one, so the first one is kept
   * for the id; the driver is handed the whole URL.
   */
  readonly hostList?: boolean;
  /** Schemes, with the colon, that mean TLS (`rediss:`). */
  readonly tlsSchemes?: readonly string[];
}

/**
 * The typed settings an engine's adapter reads from a resolved configuration. Errors name the database by `base`:
 * its position when the configuration is loaded (`databases[1]`), its id when an adapter is built from a
 * configuration made in code (`databases (cache)`).
 */
export function engineSettings<S>(engine: EngineConfig<S>, config: ResolvedDatabaseConfig, base = `databases (${config.id})`): S {
  return parseConfig(engine.settings, config, base);
}

/** The settings of an engine with no rules of its own beyond the shared fields. */
export const NO_ENGINE_SETTINGS: z.ZodType<undefined> = z.unknown().transform(() => undefined);
