import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { nodeTlsOptions } from '../../config/tls-options.js';

/** The subset of the `mariadb` driver's `ssl` option datakeep sets (it is handed to `tls.connect`). */
export interface MariadbTlsOptions {
  rejectUnauthorized: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

/** Translates datakeep's ssl setting to the driver's (a fresh object each call: the driver writes into it). */
export function mariadbTlsOptions(config: ResolvedDatabaseConfig): false | MariadbTlsOptions {
  return (nodeTlsOptions(config) as MariadbTlsOptions | undefined) ?? false;
}
