import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { nodeTlsOptions } from '../../../config/tls-options.js';
import type { ReplicationEndpoint } from './replication-link.js';

/** The replication link's address and credentials from a database's configuration (TLS as the adapter's). */
export function replicationEndpoint(config: ResolvedDatabaseConfig): ReplicationEndpoint {
  return {
    host: config.host,
    port: config.port,
    username: config.username,
    // Read at call time: a passwordFile may have rotated it.
    password: config.password,
    tls: nodeTlsOptions(config),
    timeoutMs: config.timeout,
  };
}
