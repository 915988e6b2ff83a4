import type { ResolvedDatabaseConfig } from '../../config/database-config.js';

/** The subset of the `mariadb` driver's `ssl` option datakeep sets (it is handed to `tls.connect`). */
export interface MariadbTlsOptions {
  rejectUnauthorized: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

/**
 * Translates datakeep's ssl setting to the driver's. A fresh object on every call: the driver writes into the object
 * it is given, and the resolved configuration is frozen.
 */
export function mariadbTlsOptions(config: ResolvedDatabaseConfig): false | MariadbTlsOptions {
  if (!config.ssl) return false;
  const { ca, cert, key, rejectUnauthorized, servername } = config.ssl;
  const out: MariadbTlsOptions = { rejectUnauthorized: rejectUnauthorized ?? true };
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (servername !== undefined) out.servername = servername;
  return out;
}
