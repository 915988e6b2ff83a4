import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { streamingConninfo } from './conninfo.js';
import { ensurePhysicalSlot } from './ensure-slot.js';
import { withNode } from './node-session.js';
import { replicationSlotName } from './slot-name.js';
import { remaining } from './wait-until.js';
import { waitUntilStreaming } from './wait-streaming.js';

/**
 * Points a running replica at `newPrimary`: its slot there first, then primary_conninfo and primary_slot_name through
 * ALTER SYSTEM and a reload (PostgreSQL 13+ restarts the WAL receiver on its own), and a wait until it streams from
 * there. recovery_target_timeline 'latest' (the default) makes it follow the new primary's timeline.
 */
export async function repoint(replica: ReplicationNode, newPrimary: ReplicationNode, timeoutMs: number): Promise<void> {
  const start = Date.now();
  const step = `repoint to ${newPrimary.name}`;
  const slot = replicationSlotName(replica.name);
  await ensurePhysicalSlot(newPrimary, slot, timeoutMs);
  await withNode(replica, step, remaining(start, timeoutMs), async (session) => {
    const [row] = await session.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (!row?.recovering) throw new ReplicationError('not-a-replica', `${replica.name} is not in recovery; a primary cannot be pointed at another (rejoin it instead)`, { node: replica.name, step });
    await session.query(`ALTER SYSTEM SET primary_conninfo = ${session.literal(streamingConninfo(newPrimary, replica.name, true))}`);
    await session.query(`ALTER SYSTEM SET primary_slot_name = ${session.literal(slot)}`);
    await session.query('SELECT pg_reload_conf()');
  });
  await waitUntilStreaming(replica, newPrimary, remaining(start, timeoutMs), step);
}
