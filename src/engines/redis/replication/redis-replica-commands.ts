import type { Redis } from 'ioredis';
import { ReplicationError } from '../../../errors/index.js';
import type { CreateReplicaOptions, ReplicationNode } from '../../../replication/replication-part.js';
import { call, nodeEndpoint, pollUntil, withRedisNode } from './redis-node-connection.js';
import { readReplicationInfo, type RedisReplicationInfo } from './redis-replication-info.js';

/**
 * REPLICAOF on a running redis-server, then waits (bounded) until its link to `primary` is up and the initial
 * synchronisation is done. Redis has no data directory to copy: the master streams its dataset (full resync) and the
 * replica discards its own. So that a wrong target never loses data, a node that holds keys and is not already a
 * replica of `primary` is refused; copying from a backup is not offered (the master's own full resync is the copy).
 */
export async function createRedisReplica(primary: ReplicationNode, replica: ReplicationNode, options: CreateReplicaOptions): Promise<void> {
  if (options.fromBackup !== undefined) {
    throw new ReplicationError('refused', `${replica.name}: a Redis replica is created by the master's own synchronisation; fromBackup is not supported (remove it)`, { node: replica.name, step: 'create replica' });
  }
  const deadline = Date.now() + options.timeoutMs;
  await withRedisNode(nodeEndpoint(replica), 'create replica', options.timeoutMs, async (client) => {
    const info = await readReplicationInfo(client);
    const keys = Number(await call(client, ['DBSIZE']));
    if (keys > 0 && !isReplicaOf(info, primary)) {
      throw new ReplicationError('refused', `${replica.name} holds ${keys} keys in its current db and is not a replica of ${primary.name}; REPLICAOF would discard them. Flush it first, or choose an empty server`, { node: replica.name, step: 'create replica' });
    }
    await call(client, ['REPLICAOF', primary.host, primary.port]);
    await waitForLink(client, replica, primary, deadline, 'create replica', options.onProgress);
  });
}

/** Points a running replica (or a demoted master) at `newPrimary` and waits until its link is up. */
export async function repointRedis(replica: ReplicationNode, newPrimary: ReplicationNode, timeoutMs: number, step = 'repoint'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withRedisNode(nodeEndpoint(replica), step, timeoutMs, async (client) => {
    await call(client, ['REPLICAOF', newPrimary.host, newPrimary.port]);
    // A switchover paused writes on the old master; its waiting writers must now get READONLY, not wait out the pause.
    await call(client, ['CLIENT', 'UNPAUSE']);
    await waitForLink(client, replica, newPrimary, deadline, step);
  });
}

/** REPLICAOF NO ONE: the replica becomes a master with everything it has processed; returns its offset. */
export async function promoteRedis(replica: ReplicationNode, timeoutMs: number): Promise<{ position: string }> {
  return withRedisNode(nodeEndpoint(replica), 'promote', timeoutMs, async (client) => {
    await call(client, ['REPLICAOF', 'NO', 'ONE']);
    const info = await readReplicationInfo(client);
    if (info.role !== 'master') throw new ReplicationError('failed', `${replica.name} still reports role ${info.role} after REPLICAOF NO ONE`, { node: replica.name, step: 'promote' });
    return { position: String(info.offset) };
  });
}

export function isReplicaOf(info: RedisReplicationInfo, primary: ReplicationNode): boolean {
  return info.role === 'replica' && info.masterHost === primary.host && info.masterPort === primary.port;
}

async function waitForLink(client: Redis, node: ReplicationNode, primary: ReplicationNode, deadline: number, step: string, onProgress?: CreateReplicaOptions['onProgress']): Promise<void> {
  let last: RedisReplicationInfo | undefined;
  await pollUntil(
    async () => {
      last = await readReplicationInfo(client);
      if (last.syncInProgress && onProgress && last.syncReadBytes !== undefined) onProgress(last.syncReadBytes, last.syncTotalBytes && last.syncTotalBytes > 0 ? last.syncTotalBytes : undefined);
      return isReplicaOf(last, primary) && last.linkStatus === 'up' && !last.syncInProgress ? true : undefined;
    },
    deadline,
    () =>
      new ReplicationError('timeout', `${node.name}: link to ${primary.name} not up with the synchronisation done in time (master_link_status:${last?.linkStatus ?? '?'}, sync in progress: ${String(last?.syncInProgress ?? '?')})`, {
        node: node.name,
        step,
      }),
  );
}
