import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { withNode } from './node-session.js';

/**
 * Makes sure `server` has the physical slot `slot` (reserving WAL from now on), so that the standby that will use it
 * finds every segment it still needs. Returns true when it was created.
 */
export async function ensurePhysicalSlot(server: ReplicationNode, slot: string, timeoutMs: number): Promise<boolean> {
  return withNode(server, `create slot ${slot}`, timeoutMs, async (session) => {
    const [existing] = await session.query<{ slot_type: string }>('SELECT slot_type FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (existing) {
      if (existing.slot_type !== 'physical') {
        throw new ReplicationError('refused', `${server.name} has a ${existing.slot_type} slot named ${slot}; drop it or rename the node`, { node: server.name, step: 'create slot' });
      }
      return false;
    }
    try {
      await session.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
      return true;
    } catch (error) {
      // Created by someone else between the check and here: what we wanted.
      if ((error as { code?: string }).code === '42710') return false;
      throw error;
    }
  });
}
