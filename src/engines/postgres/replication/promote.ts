import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { lsnValue } from './lsn.js';
import { withNode } from './node-session.js';
import { remaining, waitUntil } from './wait-until.js';

/** Polls the replica's replay position until it reaches `position`. */
export async function waitForReplay(replica: ReplicationNode, position: string, timeoutMs: number): Promise<void> {
  const target = lsnValue(position, 'position');
  const step = `wait for replay of ${position}`;
  let seen = 'nothing replayed yet';
  await waitUntil(() => withNode(replica, step, Math.min(timeoutMs, 5_000), async (session) => {
    const [row] = await session.query<{ recovering: boolean; replayed: string | null }>(
      'SELECT pg_is_in_recovery() AS recovering, pg_last_wal_replay_lsn()::text AS replayed');
    if (!row?.recovering) throw new ReplicationError('not-a-replica', `${replica.name} is not in recovery; it replays nothing`, { node: replica.name, step });
    if (row.replayed === null) return undefined;
    seen = `replayed up to ${row.replayed}`;
    return lsnValue(row.replayed) >= target ? true : undefined;
  }), { node: replica.name, step, timeoutMs, intervalMs: 50, lastSeen: () => seen });
}

/** pg_promote(wait => true): the replica replays what it has received, ends recovery, and starts a new timeline. */
export async function promote(replica: ReplicationNode, timeoutMs: number): Promise<{ position: string; timeline: number }> {
  const start = Date.now();
  const step = 'promote';
  return withNode(replica, step, timeoutMs, async (session) => {
    const [row] = await session.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (!row?.recovering) throw new ReplicationError('not-a-replica', `${replica.name} is already a primary (not in recovery); nothing to promote`, { node: replica.name, step });
    const seconds = Math.max(1, Math.floor((remaining(start, timeoutMs) - 500) / 1000));
    const [done] = await session.query<{ promoted: boolean }>('SELECT pg_promote(true, $1) AS promoted', [seconds]);
    if (!done?.promoted) throw new ReplicationError('timeout', `${replica.name}: promotion did not finish within ${seconds} s`, { node: replica.name, step });
    const [pos] = await session.query<{ position: string; walfile: string }>(
      'SELECT pg_current_wal_lsn()::text AS position, pg_walfile_name(pg_current_wal_lsn()) AS walfile');
    return { position: pos!.position, timeline: Number.parseInt(pos!.walfile.slice(0, 8), 16) };
  });
}
