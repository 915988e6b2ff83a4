import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { call, nodeEndpoint, pollUntil, withRedisNode } from './redis-node-connection.js';
import { offset } from './redis-offsets.js';
import { readReplicationInfo } from './redis-replication-info.js';

/**
 * How long CLIENT PAUSE WRITE holds: Redis requires a limit. It must outlast the switchover (wait for replay, promote,
 * fence), whose steps each have their own bound; resumeWrites or the fence (REPLICAOF + CLIENT UNPAUSE) ends it sooner.
 */
export const WRITE_PAUSE_MS = 60_000;

/**
 * CLIENT PAUSE WRITE: every client's writes (and expiry, eviction) wait; reads go on. The offset read after the pause
 * is the last write the replicas must have before one is promoted.
 */
export async function stopRedisWrites(primary: ReplicationNode, timeoutMs: number): Promise<{ position: string }> {
  return withRedisNode(nodeEndpoint(primary), 'stop writes', timeoutMs, async (client) => {
    const info = await readReplicationInfo(client);
    if (info.role !== 'master') throw new ReplicationError('not-a-primary', `${primary.name} is a replica; there are no writes to stop`, { node: primary.name, step: 'stop writes' });
    await call(client, ['CLIENT', 'PAUSE', Math.max(WRITE_PAUSE_MS, timeoutMs), 'WRITE']);
    return { position: String((await readReplicationInfo(client)).offset) };
  });
}

export async function resumeRedisWrites(primary: ReplicationNode, timeoutMs: number): Promise<void> {
  await withRedisNode(nodeEndpoint(primary), 'resume writes', timeoutMs, (client) => call(client, ['CLIENT', 'UNPAUSE']));
}

/** Polls the replica's processed offset (slave_repl_offset) until it reaches `position`. */
export async function waitForRedisReplay(replica: ReplicationNode, position: string, timeoutMs: number): Promise<void> {
  const target = offset(position, 'position');
  const deadline = Date.now() + timeoutMs;
  await withRedisNode(nodeEndpoint(replica), 'wait for replay', timeoutMs, async (client) => {
    let last: number | undefined;
    await pollUntil(
      async () => {
        const info = await readReplicationInfo(client);
        if (info.role !== 'replica') throw new ReplicationError('not-a-replica', `${replica.name} is a master; it replays nothing`, { node: replica.name, step: 'wait for replay' });
        last = info.replicaOffset;
        return last !== undefined && BigInt(last) >= target ? true : undefined;
      },
      deadline,
      () => new ReplicationError('timeout', `${replica.name} reached offset ${last ?? '?'} of ${position} within ${timeoutMs} ms`, { node: replica.name, step: 'wait for replay' }),
      10,
    );
  });
}
