import type { ReplicationNode } from '../../../replication/replication-part.js';

/**
 * A libpq connection string for a standby to stream from `upstream`, as primary_conninfo or pg_rewind's source.
 * `application_name` is the standby's node name: pg_stat_replication and synchronous_standby_names know it by that.
 * The password is included only when `withPassword` is set (primary_conninfo must carry it; argv never does).
 */
export function streamingConninfo(upstream: ReplicationNode, applicationName: string | undefined, withPassword: boolean): string {
  const c = upstream.config;
  const parts: [string, string | number | undefined][] = [
    ['host', upstream.host],
    ['port', upstream.port],
    ['user', c.username],
    ['password', withPassword ? c.password : undefined],
    ['dbname', c.database],
    ['application_name', applicationName],
    ['sslmode', c.ssl === false ? 'prefer' : 'require'],
    ['connect_timeout', 5],
  ];
  return parts.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${conninfoValue(String(v))}`).join(' ');
}

/** libpq quoting: single quotes around the value, backslash before `'` and `\`. */
function conninfoValue(value: string): string {
  return /^[A-Za-z0-9_.:/@-]+$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
