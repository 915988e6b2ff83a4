import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { withNode } from './node-session.js';

/**
 * Makes sure a freshly promoted primary's control file names its new timeline, running CHECKPOINT when it does not.
 * A promotion only requests the checkpoint that writes the new timeline into pg_control; until it completes,
 * pg_rewind reads timeline 1 there, says "source and target cluster are on the same timeline" and "no rewind
 * required", and the old primary, never rewound, cannot follow (it has WAL past the fork). Returns whether a
 * CHECKPOINT was needed.
 */
export async function checkpointNewTimeline(primary: ReplicationNode, timeoutMs: number): Promise<boolean> {
  const step = 'checkpoint the new timeline';
  return withNode(primary, step, timeoutMs, async (session) => {
    const [state] = await session.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (state?.recovering !== false) throw new ReplicationError('not-a-primary', `${primary.name} is in recovery; a node rejoins a primary only`, { node: primary.name, step });
    const read = async () => {
      const [row] = await session.query<{ current: string; checkpointed: number }>(
        `SELECT pg_walfile_name(pg_current_wal_lsn()) AS current, (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpointed`);
      return { current: Number.parseInt(row!.current.slice(0, 8), 16), checkpointed: Number(row!.checkpointed) };
    };
    const before = await read();
    if (before.checkpointed >= before.current) return false;
    await session.query('CHECKPOINT');
    const after = await read();
    if (after.checkpointed < after.current) {
      throw new ReplicationError('failed', `${primary.name}: after CHECKPOINT its control file still names timeline ${after.checkpointed}, not ${after.current}; pg_rewind would misjudge the fork`, { node: primary.name, step });
    }
    return true;
  });
}
