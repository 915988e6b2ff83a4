import type { Redis } from 'ioredis';
import type { ReplicationNode, SyncSettings } from '../../../replication/replication-part.js';
import { call, nodeEndpoint, withRedisNode } from './redis-node-connection.js';
import { readReplicationInfo } from './redis-replication-info.js';

/**
 * Seconds a replica may go without acknowledging and still count towards min-replicas-to-write (Redis' own default).
 * Redis' acknowledgements come every second, so less than 2 would refuse writes on ordinary jitter.
 */
export const MIN_REPLICAS_MAX_LAG_SECONDS = 10;

/**
 * Redis has no synchronous replication. The nearest it offers: `min-replicas-to-write k` with
 * `min-replicas-max-lag s` makes the master refuse writes (NOREPLICAS) while fewer than k replicas have acknowledged
 * within s seconds: writes are refused, not lost, when replicas are gone, but a write it accepts still returns before
 * any replica has it. Durability of an acknowledged write needs WAIT k timeout after it (docs/redis-replication.md).
 * Redis counts any connected replica: 'first' and the standby names cannot be honoured, and the settings returned say
 * what is in force ('any' k). The setting is also given to the primary's connected replicas (where it does nothing
 * until one is promoted), so that it survives a Sentinel failover, which does not carry it over.
 */
export async function configureRedisSync(primary: ReplicationNode, settings: SyncSettings, timeoutMs: number): Promise<SyncSettings> {
  const count = settings.mode === 'sync' ? settings.count : 0;
  const replicas = await withRedisNode(nodeEndpoint(primary), 'configure sync', timeoutMs, async (client) => {
    await apply(client, count);
    return (await readReplicationInfo(client)).replicas;
  });
  await Promise.allSettled(
    replicas.map((r) => {
      const [host, port] = splitAddress(r.address);
      return withRedisNode({ name: r.address, host, port, username: primary.config.username, password: primary.config.password, config: primary.config }, 'configure sync', timeoutMs, (client) => apply(client, count));
    }),
  );
  const inForce = await withRedisNode(nodeEndpoint(primary), 'configure sync', timeoutMs, async (client) => Number(((await call(client, ['CONFIG', 'GET', 'min-replicas-to-write'])) as string[])[1]));
  return { mode: inForce > 0 ? 'sync' : 'async', method: 'any', count: inForce, standbys: settings.standbys };
}

async function apply(client: Redis, count: number): Promise<void> {
  await call(client, ['CONFIG', 'SET', 'min-replicas-to-write', count, 'min-replicas-max-lag', MIN_REPLICAS_MAX_LAG_SECONDS]);
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
