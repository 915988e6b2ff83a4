import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import type { CreateReplicaOptions, FenceResult, NodeStatus, ReplicationDriver, ReplicationNode, SyncSettings } from '../../../replication/replication-part.js';
import { fenceRedis } from './redis-fence.js';
import { followSentinels } from './redis-follow-sentinels.js';
import { redisNativeSwitchover } from './redis-native-switchover.js';
import { compareOffsets, offsetDistance } from './redis-offsets.js';
import { createRedisReplica, promoteRedis, repointRedis } from './redis-replica-commands.js';
import { routeRedis } from './redis-replication-route.js';
import { redisReplicationStatus } from './redis-replication-status.js';
import { configureRedisSync } from './redis-sync-settings.js';
import { resumeRedisWrites, stopRedisWrites, waitForRedisReplay } from './redis-write-pause.js';

/**
 * Redis replication (REPLICAOF), with Sentinel as the authority: Sentinel detects a dead master, agrees on it by
 * quorum, promotes a replica and tells clients (Sentinel-mode adapters follow it), so datakeep configures and watches
 * the Sentinels (sentinel-admin.ts, sentinel-events.ts) instead of running its own failover. The steps below serve
 * switchovers, repairs and manual failovers. See docs/redis-replication.md.
 */
export const redisReplicationDriver: ReplicationDriver = {
  authority: 'engine',
  status: (nodes: readonly ReplicationNode[], options: { timeoutMs: number }): Promise<NodeStatus[]> => redisReplicationStatus(nodes, options.timeoutMs),
  createReplica: (primary: ReplicationNode, replica: ReplicationNode, options: CreateReplicaOptions) => createRedisReplica(primary, replica, options),
  configureSync: (primary: ReplicationNode, settings: SyncSettings, options: { timeoutMs: number }) => configureRedisSync(primary, settings, options.timeoutMs),
  stopWrites: (primary, options) => stopRedisWrites(primary, options.timeoutMs),
  resumeWrites: (primary, options) => resumeRedisWrites(primary, options.timeoutMs),
  waitForReplay: (replica, position, options) => waitForRedisReplay(replica, position, options.timeoutMs),
  promote: (replica, options) => promoteRedis(replica, options.timeoutMs),
  fence: (node, newPrimary, options): Promise<FenceResult> => fenceRedis(node, newPrimary, options.timeoutMs),
  repoint: (replica, newPrimary, options) => repointRedis(replica, newPrimary, options.timeoutMs),
  /** A running former master made a replica of `newPrimary`; Redis resynchronises it itself (a full resync when its history diverged), so nothing is rewound. */
  rejoin: async (node, newPrimary, options) => {
    await repointRedis(node, newPrimary, options.timeoutMs, 'rejoin');
    return { rewound: false };
  },
  comparePositions: compareOffsets,
  distance: offsetDistance,
  route: (adapter: DatabaseAdapter, node: ReplicationNode, options: { timeoutMs: number }) => routeRedis(adapter, node, options.timeoutMs),
  nativeSwitchover: (primary, target, options) => redisNativeSwitchover(primary, target, options.timeoutMs),
  followEngine: followSentinels,
};
