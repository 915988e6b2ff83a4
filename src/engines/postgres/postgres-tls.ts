import type { ConnectionOptions } from 'node:tls';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { nodeTlsOptions } from '../../config/tls-options.js';

/** Translates datakeep's ssl setting to the options `pg` hands to `tls.connect` (false: no TLS). */
export function postgresTlsOptions(config: ResolvedDatabaseConfig): false | ConnectionOptions {
  return nodeTlsOptions(config) ?? false;
}
