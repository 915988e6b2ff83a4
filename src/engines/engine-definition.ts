import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { DatabaseType, ResolvedDatabaseConfig } from '../config/database-config.js';
import type { Logger } from '../util/logger.js';

export interface AdapterDependencies {
  readonly logger: Logger;
}

/** What the configuration layer and the registry need to know about one engine. */
export interface EngineDefinition {
  readonly type: DatabaseType;
  /** Other names accepted in `type` (e.g. "postgres"). */
  readonly aliases: readonly string[];
  /** URL schemes, with the colon, that select this engine. */
  readonly urlSchemes: readonly string[];
  readonly defaultPort: number;
  readonly defaultDatabase: string;
  /** True for engines that take SQL text: candidates for the default database of `query`/`execute`. */
  readonly sql: boolean;
  /** False for engines with no server (PGlite). */
  readonly networked: boolean;
  /** Engine-specific keys allowed in `options`, for validation messages. */
  readonly optionKeys: readonly string[];
  /** Loads the driver lazily so that engines a user does not configure need not be installed. */
  create(config: ResolvedDatabaseConfig, deps: AdapterDependencies): Promise<DatabaseAdapter>;
}
