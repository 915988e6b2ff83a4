import type { ReplicationNode } from '../../../replication/replication-part.js';
import { withNode } from './node-session.js';
import { waitUntil } from './wait-until.js';

/**
 * How long one WAL receiver must stay 'streaming' from the upstream before it counts. A receiver that cannot follow
 * (its WAL runs past the upstream's fork point) connects, shows 'streaming' for a moment, then exits and retries:
 * one sighting would call that node rejoined.
 */
const STABLE_MS = 1_000;

/** Waits until `replica`'s WAL receiver streams from `upstream` (pg_stat_wal_receiver), the same receiver for STABLE_MS. */
export async function waitUntilStreaming(replica: ReplicationNode, upstream: ReplicationNode, timeoutMs: number, step: string): Promise<void> {
  let seen = 'no WAL receiver';
  let since: { pid: number; at: number } | undefined;
  await waitUntil(() => withNode(replica, step, Math.min(timeoutMs, 5_000), async (session) => {
    const [row] = await session.query<{ pid: number | null; status: string; sender_port: number | null; sender_host: string | null }>(
      'SELECT pid, status, sender_host, sender_port FROM pg_stat_wal_receiver');
    seen = row ? `${row.status} from ${row.sender_host ?? '?'}:${row.sender_port ?? '?'}` : 'no WAL receiver';
    if (row?.status !== 'streaming' || row.sender_port !== upstream.port || row.pid === null) {
      since = undefined;
      return undefined;
    }
    if (since?.pid !== row.pid) since = { pid: row.pid, at: Date.now() };
    return Date.now() - since.at >= STABLE_MS ? true : undefined;
  }), { node: replica.name, step, timeoutMs, intervalMs: 200, lastSeen: () => seen });
}
