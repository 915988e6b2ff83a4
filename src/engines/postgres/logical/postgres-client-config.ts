import type pg from 'pg';
import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { postgresTlsOptions } from '../postgres-tls.js';

/**
 * pg client settings for a logical backup's or restore's own sessions. No statement timeout: one COPY of a large
 * table runs as long as its table takes (the adapter's pool keeps its limits for everything else). Not a spread of
 * `config`: its password is non-enumerable.
 */
export function postgresClientConfig(config: ResolvedDatabaseConfig, database = config.database): pg.ClientConfig {
  return {
    host: config.host, port: config.port, database, user: config.username ?? 'postgres', password: config.password,
    ssl: postgresTlsOptions(config), connectionTimeoutMillis: config.timeout, application_name: `${config.applicationName} logical`,
    keepAlive: true,
  };
}
