import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import { ConfigurationError, UnknownAdapterError } from '../errors/index.js';
import { getEngine } from '../engines/engine-registry.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { Logger } from '../util/logger.js';
import type { DatabaseAdapter } from './database-adapter.js';

/**
 * The configured adapters by id, and the routing rules: `query`/`execute` go to the default SQL database (the one
 * marked `default: true`, else the first SQL one); everything else is addressed by id.
 */
export class AdapterRegistry {
  readonly #adapters = new Map<string, DatabaseAdapter>();
  #defaultSqlId: string | undefined;

  /**
   * Creates and connects every adapter; if one fails, closes those already open and rethrows (nothing half-done).
   * `metrics` is the DataManager's registry the adapters record into.
   */
  static async open(configs: readonly ResolvedDatabaseConfig[], logger: Logger, metrics?: MetricsRegistry): Promise<AdapterRegistry> {
    const registry = new AdapterRegistry();
    try {
      for (const config of configs) {
        const adapter = await getEngine(config.type).create(config, { logger, metrics });
        registry.#adapters.set(config.id, adapter);
      }
      await Promise.all([...registry.#adapters.values()].map((a) => a.connect()));
    } catch (error) {
      await registry.close();
      throw error;
    }
    const explicit = configs.find((c) => c.default);
    if (explicit && !getEngine(explicit.type).sql) {
      throw new ConfigurationError(`databases (${explicit.id}).default`, `${explicit.type} is not a SQL database`, 'Mark a postgresql, pglite, mariadb or mysql database as default');
    }
    registry.#defaultSqlId = explicit?.id ?? configs.find((c) => getEngine(c.type).sql)?.id;
    return registry;
  }

  get ids(): string[] {
    return [...this.#adapters.keys()];
  }

  all(): DatabaseAdapter[] {
    return [...this.#adapters.values()];
  }

  get(id: string): DatabaseAdapter {
    const adapter = this.#adapters.get(id);
    if (!adapter) throw new UnknownAdapterError(id, this.ids);
    return adapter;
  }

  defaultSql(): DatabaseAdapter {
    if (this.#defaultSqlId === undefined) {
      throw new ConfigurationError('databases', 'no SQL database is configured, so query() and execute() have nowhere to go', `Add a postgresql, pglite or mariadb database, or use queryDatabase(id, command) with one of: ${this.ids.join(', ')}`);
    }
    return this.get(this.#defaultSqlId);
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.#adapters.values()].map((a) => a.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
