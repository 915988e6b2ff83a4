import type { Redis } from 'ioredis';
import { parseRedisInfo, parseRedisReplicas, type RedisReplicaInfo } from '../parse-redis-info.js';

/** INFO replication of one node, typed: what status, promotion and the waits read. */
export interface RedisReplicationInfo {
  readonly role: 'master' | 'replica';
  /** master_repl_offset: on a master its write position; on a replica the offset of the stream it has processed. */
  readonly offset: number;
  /** A replica's master as it was told (REPLICAOF host port). */
  readonly masterHost?: string;
  readonly masterPort?: number;
  /** 'up' once the replica is connected and synchronised. */
  readonly linkStatus?: string;
  /** True while the initial (full or partial) synchronisation runs. */
  readonly syncInProgress: boolean;
  /** Bytes of the initial synchronisation read so far and in all (when the master sent a size). */
  readonly syncReadBytes?: number;
  readonly syncTotalBytes?: number;
  /** A replica's read (received) and processed (applied) offsets. */
  readonly replicaReadOffset?: number;
  readonly replicaOffset?: number;
  /** The replicas a master lists, with the offset each acknowledged and seconds since its last acknowledgement. */
  readonly replicas: readonly RedisReplicaInfo[];
}

export async function readReplicationInfo(client: Redis): Promise<RedisReplicationInfo> {
  return parseReplicationInfo(String(await client.call('INFO', 'replication')));
}

export function parseReplicationInfo(text: string): RedisReplicationInfo {
  const info = parseRedisInfo(text);
  const num = (key: string) => (info.has(key) ? Number(info.get(key)) : undefined);
  const role = info.get('role') === 'slave' ? 'replica' : 'master';
  return {
    role,
    offset: num('master_repl_offset') ?? 0,
    masterHost: info.get('master_host'),
    masterPort: num('master_port'),
    linkStatus: info.get('master_link_status'),
    syncInProgress: info.get('master_sync_in_progress') === '1',
    syncReadBytes: num('master_sync_read_bytes'),
    syncTotalBytes: num('master_sync_total_bytes'),
    // Redis 7 reports what it read and what it processed; older servers only slave_repl_offset.
    replicaReadOffset: num('slave_read_repl_offset') ?? num('slave_repl_offset'),
    replicaOffset: num('slave_repl_offset'),
    replicas: role === 'master' ? parseRedisReplicas(info) : [],
  };
}
