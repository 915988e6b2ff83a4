import type { ConnectionOptions } from 'node:tls';
import type { ResolvedDatabaseConfig } from './database-config.js';

/**
 * datakeep's `ssl` setting as the options drivers hand to `tls.connect` (pg, ioredis, mariadb, the MongoDB driver's
 * own names aside). A fresh object on every call: some drivers write into the object they are given, and the resolved
 * configuration is frozen.
 */
export function nodeTlsOptions(config: ResolvedDatabaseConfig): ConnectionOptions & { rejectUnauthorized: boolean } | undefined {
  if (!config.ssl) return undefined;
  const { ca, cert, key, rejectUnauthorized, servername } = config.ssl;
  const out: ConnectionOptions & { rejectUnauthorized: boolean } = { rejectUnauthorized: rejectUnauthorized ?? true };
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (servername !== undefined) out.servername = servername;
  return out;
}
