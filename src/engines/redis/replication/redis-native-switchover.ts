import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { checkRedisConfig } from '../redis-client-options.js';
import { fenceRedis } from './redis-fence.js';
import { call, nodeEndpoint, pollUntil, withRedisNode } from './redis-node-connection.js';
import { parseReplicationInfo, readReplicationInfo } from './redis-replication-info.js';
import { sentinelEndpoints, sentinelFailover, sentinelMasterAddress } from './sentinel-admin.js';
import { resumeRedisWrites, stopRedisWrites } from './redis-write-pause.js';

/**
 * A switchover that loses nothing. Without Sentinel: Redis' own FAILOVER [TO host port] TIMEOUT ms (the master pauses
 * writes, waits until the target has everything, then swaps roles; at the timeout it gives up and resumes).
 * With Sentinel, FAILOVER would fight it (Sentinel counts a master that reports itself a replica as down and fails
 * over again), so the Sentinels do it: writes are paused on the master, every connected replica catches up, SENTINEL
 * FAILOVER promotes the replica Sentinel chooses, and the old master is made its replica at once (writers it paused
 * then get READONLY and follow the Sentinels) instead of a few seconds later when Sentinel would convert it.
 */
export async function redisNativeSwitchover(primary: ReplicationNode, target: ReplicationNode | undefined, timeoutMs: number): Promise<void> {
  const sentinel = checkRedisConfig(primary.config);
  if (sentinel) return sentinelSwitchover(primary, target, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  await withRedisNode(nodeEndpoint(primary), 'switchover', timeoutMs, async (client) => {
    const args: (string | number)[] = ['FAILOVER'];
    if (target) args.push('TO', target.host, target.port);
    await call(client, [...args, 'TIMEOUT', Math.max(1, timeoutMs - 500)]);
    let state = '';
    await pollUntil(
      async () => {
        const text = String(await call(client, ['INFO', 'replication']));
        state = /master_failover_state:(\S+)/.exec(text)?.[1] ?? '';
        if (state !== 'no-failover') return undefined;
        // Done: the old master is a replica. Given up (timeout, target lost): it is still a master.
        if (parseReplicationInfo(text).role === 'replica') return true;
        throw new ReplicationError('failed', `${primary.name}: FAILOVER ended without a role change (aborted: see the server log)`, { node: primary.name, step: 'switchover' });
      },
      deadline,
      () => new ReplicationError('timeout', `${primary.name}: FAILOVER still in state ${state} after ${timeoutMs} ms`, { node: primary.name, step: 'switchover' }),
    );
  });
}

async function sentinelSwitchover(primary: ReplicationNode, target: ReplicationNode | undefined, timeoutMs: number): Promise<void> {
  const step = 'switchover';
  if (target) throw new ReplicationError('refused', `${primary.name} is managed by Sentinel, which chooses the new master (by replica-priority, then offset); call the switchover without a target`, { node: primary.name, step });
  const settings = checkRedisConfig(primary.config)!;
  const sentinels = sentinelEndpoints(settings, primary.config);
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const { position } = await stopRedisWrites(primary, left());
  try {
    await withRedisNode(nodeEndpoint(primary), step, left(), (client) =>
      pollUntil(
        async () => {
          const info = await readReplicationInfo(client);
          return info.replicas.length > 0 && info.replicas.every((r) => r.state === 'online' && BigInt(r.offset) >= BigInt(position)) ? true : undefined;
        },
        deadline,
        () => new ReplicationError('timeout', `${primary.name}: the replicas did not reach offset ${position} in time; writes resumed, nothing switched`, { node: primary.name, step }),
        10,
      ),
    );
    await sentinelFailover(sentinels, settings.masterName, left());
  } catch (error) {
    await resumeRedisWrites(primary, Math.min(5000, left())).catch(() => undefined);
    throw error;
  }
  const master = await pollUntil(
    async () => {
      const m = await sentinelMasterAddress(sentinels, settings.masterName, left()).catch(() => undefined);
      return m && !(m.host === primary.host && m.port === primary.port) ? m : undefined;
    },
    deadline,
    () => new ReplicationError('timeout', `the Sentinels did not name a new master of ${settings.masterName} within ${timeoutMs} ms; ${primary.name} keeps its writes paused until the pause ends`, { node: primary.name, step }),
    50,
  );
  const newPrimary: ReplicationNode = { ...primary, name: `${master.host}:${master.port}`, host: master.host, port: master.port, config: { ...primary.config, host: master.host, port: master.port } };
  await fenceRedis(primary, newPrimary, left());
}
