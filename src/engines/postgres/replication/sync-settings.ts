import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode, SyncSettings } from '../../../replication/replication-part.js';
import { withNode } from './node-session.js';
import { remaining, waitUntil } from './wait-until.js';

/** synchronous_standby_names for `settings`: '' (async), `ANY k ("a", "b")` or `FIRST k (...)`, names as identifiers. */
export function standbyNamesValue(settings: SyncSettings): string {
  if (settings.mode === 'async') return '';
  if (settings.method !== 'any' && settings.method !== 'first') {
    throw new ReplicationError('refused', `sync.method: "${String(settings.method)}" is not 'any' or 'first'`);
  }
  if (settings.standbys.length === 0) throw new ReplicationError('refused', 'sync.standbys: sync mode needs at least one standby name; list the replicas or use mode async');
  if (!Number.isInteger(settings.count) || settings.count < 1 || settings.count > settings.standbys.length) {
    throw new ReplicationError('refused', `sync.count: ${settings.count} must be a whole number from 1 to the number of standbys (${settings.standbys.length})`);
  }
  for (const name of settings.standbys) {
    if (name === '' || name.length > 63) throw new ReplicationError('refused', `sync.standbys: "${name}" is not a usable application_name (1 to 63 characters)`);
  }
  const names = settings.standbys.map((n) => `"${n.replace(/"/g, '""')}"`).join(', ');
  return `${settings.method.toUpperCase()} ${settings.count} (${names})`;
}

/** Reads synchronous_standby_names back the way PostgreSQL parses it (`a, b` is FIRST 1, `2 (a, b)` is FIRST 2). */
export function parseStandbyNames(value: string): SyncSettings {
  const text = value.trim();
  if (text === '') return { mode: 'async', method: 'first', count: 0, standbys: [] };
  const match = /^(?:(ANY|FIRST)\s+)?(?:(\d+)\s*\((.*)\)|(.*))$/is.exec(text);
  const method = match?.[1]?.toLowerCase() === 'any' ? 'any' : 'first';
  const list = match?.[3] ?? match?.[4] ?? text;
  const standbys = splitNames(list);
  return { mode: 'sync', method, count: match?.[2] !== undefined ? Number(match[2]) : 1, standbys };
}

function splitNames(list: string): string[] {
  const names: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/gy;
  for (let m = re.exec(list); m !== null && m[0] !== ''; m = re.exec(list)) {
    names.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.toLowerCase());
  }
  return names;
}

/**
 * ALTER SYSTEM SET synchronous_standby_names, reload, and wait until the server has it in force. Accepted on a
 * replica too: the manager sets a candidate's settings before promoting it, so that no commit on the new primary
 * goes unconfirmed between the promotion and a later configureSync.
 */
export async function configureSync(primary: ReplicationNode, settings: SyncSettings, timeoutMs: number): Promise<SyncSettings> {
  const value = standbyNamesValue(settings);
  const start = Date.now();
  return withNode(primary, 'configure sync', timeoutMs, async (session) => {
    await session.query(`ALTER SYSTEM SET synchronous_standby_names = ${session.literal(value)}`);
    await session.query('SELECT pg_reload_conf()');
    // The postmaster rereads the file asynchronously; each new SHOW sees the value once this backend has too.
    const inForce = await waitUntil(async () => {
      const [row] = await session.query<{ synchronous_standby_names: string }>('SHOW synchronous_standby_names');
      return row?.synchronous_standby_names === value ? row.synchronous_standby_names : undefined;
    }, { node: primary.name, step: 'configure sync (reload)', timeoutMs: remaining(start, timeoutMs), intervalMs: 50 });
    return parseStandbyNames(inForce);
  });
}
