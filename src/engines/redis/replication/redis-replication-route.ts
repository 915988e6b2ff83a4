import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { parseRedisInfo } from '../parse-redis-info.js';
import type { RedisAdapter } from '../redis-adapter.js';
import { call, describe, nodeEndpoint, pollUntil, withRedisNode } from './redis-node-connection.js';

/**
 * Routing of a Redis adapter is Sentinel's: an adapter in Sentinel mode asks the Sentinels for the master on every
 * reconnect, moves on +switch-master and on a READONLY reply, so datakeep has nothing to re-point. This checks that
 * the adapter is in Sentinel mode and waits (bounded) until its connection reaches `node` (same run_id). A direct-mode
 * adapter is refused: it is bound to one address, and swapping the address is not failover (no fencing, no
 * discovery by other clients), so the fix is to configure Sentinel.
 */
export async function routeRedis(adapter: DatabaseAdapter, node: ReplicationNode, timeoutMs: number): Promise<void> {
  const step = 'route';
  if (adapter.type !== 'redis') throw new ReplicationError('refused', `adapter ${adapter.id} is a ${adapter.type} adapter, not redis`, { node: node.name, step });
  if (!(adapter as RedisAdapter).sentinelMode) {
    throw new ReplicationError(
      'refused',
      `adapter ${adapter.id} connects to one Redis server directly and cannot follow a new master; configure Sentinel for it (options.sentinels and options.masterName, docs/redis.md) so that Sentinel routes it`,
      { node: node.name, step },
    );
  }
  const deadline = Date.now() + timeoutMs;
  const runId = await withRedisNode(nodeEndpoint(node), step, timeoutMs, async (client) => parseRedisInfo(String(await call(client, ['INFO', 'server']))).get('run_id'));
  let reached: string | undefined;
  await pollUntil(
    async () => {
      try {
        reached = parseRedisInfo(String(await adapter.command(['INFO', 'server']))).get('run_id');
      } catch (error) {
        reached = `error: ${describe(error)}`;
      }
      return reached === runId ? true : undefined;
    },
    deadline,
    () => new ReplicationError('timeout', `adapter ${adapter.id} did not reach ${node.name} through the Sentinels within ${timeoutMs} ms (it reaches run_id ${reached ?? '?'})`, { node: node.name, step }),
    50,
  );
}
