import type { Redis } from 'ioredis';
import { ReplicationError } from '../../../errors/index.js';
import type { FenceResult, ReplicationNode } from '../../../replication/replication-part.js';
import { call, describe, nodeEndpoint, withRedisNode } from './redis-node-connection.js';

/** Above any number of replicas: a master with this min-replicas-to-write refuses every write (NOREPLICAS). */
const REFUSE_ALL_WRITES = 2_147_483_647;

/**
 * Makes a Redis node refuse writes. Up, with a new primary: REPLICAOF it (a replica answers writes with READONLY),
 * paused writers released so they get that answer now, and its normal clients disconnected (a Sentinel-mode client
 * then asks the Sentinels again). Up, without one: min-replicas-to-write set beyond reach. Either way CONFIG REWRITE
 * keeps it across a restart when the server has a config file. Down: nothing can reach it; Sentinel, when it
 * monitors the set, turns it into a replica of the current master once it is back (a few seconds after it answers),
 * and until then only a client connecting to it directly, not through the Sentinels, could write to it.
 */
export async function fenceRedis(node: ReplicationNode, newPrimary: ReplicationNode | undefined, timeoutMs: number): Promise<FenceResult> {
  try {
    return await fenceOnce(node, newPrimary, timeoutMs);
  } catch (error) {
    if (error instanceof ReplicationError && error.reason === 'unreachable') return notReachable(error);
    // The node answered but the connection went (Sentinel reconfiguring it closes normal clients): once more.
    return fenceOnce(node, newPrimary, timeoutMs).catch((again: unknown) => {
      if (again instanceof ReplicationError && again.reason === 'unreachable') return notReachable(again);
      throw again;
    });
  }
}

function notReachable(error: unknown): FenceResult {
  return {
    actions: [
      `not reachable (${describe(error)}): not fenced by datakeep. When Sentinel monitors the set it makes the node a replica of the current master a few seconds after it is back; until then only clients connecting to it directly (not through the Sentinels) could write to it`,
    ],
    durable: false,
  };
}

function fenceOnce(node: ReplicationNode, newPrimary: ReplicationNode | undefined, timeoutMs: number): Promise<FenceResult> {
  return withRedisNode(nodeEndpoint(node), 'fence', timeoutMs, async (client) => {
    const actions: string[] = [];
    if (newPrimary) {
      await call(client, ['REPLICAOF', newPrimary.host, newPrimary.port]);
      actions.push(`REPLICAOF ${newPrimary.name}`);
      await call(client, ['CLIENT', 'UNPAUSE']);
    } else {
      await call(client, ['CONFIG', 'SET', 'min-replicas-to-write', REFUSE_ALL_WRITES]);
      actions.push(`min-replicas-to-write=${REFUSE_ALL_WRITES} (writes refused with NOREPLICAS)`);
    }
    const killed = Number(await call(client, ['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']));
    actions.push(`${killed} client connections closed`);
    const durable = await rewriteConfig(client, actions);
    return { actions, durable };
  });
}

async function rewriteConfig(client: Redis, actions: string[]): Promise<boolean> {
  try {
    await call(client, ['CONFIG', 'REWRITE']);
    actions.push('CONFIG REWRITE (kept across a restart)');
    return true;
  } catch (error) {
    actions.push(`CONFIG REWRITE failed (${describe(error)}): a restart would come back as a master`);
    return false;
  }
}
