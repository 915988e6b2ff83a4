import type { ReplicationNode } from '../../../replication/replication-part.js';
import type { NodeSession } from './node-session.js';
import { waitUntil } from './wait-until.js';

/**
 * Turns writes off (or back on) on a running server through its configuration: default_transaction_read_only in
 * postgresql.auto.conf, reloaded, and (when turning off) every client session but this one terminated, so that none
 * keeps writing in a transaction it opened before. Walsenders and background workers are left alone. Returns what was
 * done. A session can still SET default_transaction_read_only = off: this fences datakeep's clients, not an operator.
 */
export async function setWritesAllowed(node: ReplicationNode, session: NodeSession, allowed: boolean, timeoutMs: number): Promise<string[]> {
  await session.query(allowed ? 'ALTER SYSTEM RESET default_transaction_read_only' : 'ALTER SYSTEM SET default_transaction_read_only = on');
  await session.query('SELECT pg_reload_conf()');
  const want = allowed ? 'off' : 'on';
  // Once this backend has the new value the postmaster has reread the file, so every session forked after has it too.
  await waitUntil(async () => {
    const [row] = await session.query<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v");
    return row?.v === want ? true : undefined;
  }, { node: node.name, step: allowed ? 'resume writes (reload)' : 'stop writes (reload)', timeoutMs, intervalMs: 50 });
  if (allowed) return ['default_transaction_read_only reset'];
  // OFFSET 0 keeps the filter below the call: SQL does not promise the order of AND, and this session must survive.
  const terminated = await session.query<{ pid: number }>(
    `SELECT pid FROM (SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() OFFSET 0) AS s
      WHERE pg_terminate_backend(pid)`);
  return ['default_transaction_read_only=on', `${terminated.length} sessions terminated`];
}
