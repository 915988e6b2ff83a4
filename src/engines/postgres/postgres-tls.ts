import type { ConnectionOptions } from 'node:tls';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';

/** Translates datakeep's ssl setting to the options `pg` hands to `tls.connect`. */
export function postgresTlsOptions(config: ResolvedDatabaseConfig): false | ConnectionOptions {
  if (!config.ssl) return false;
  const { ca, cert, key, rejectUnauthorized, servername } = config.ssl;
  const out: ConnectionOptions = { rejectUnauthorized: rejectUnauthorized ?? true };
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (servername !== undefined) out.servername = servername;
  return out;
}
