import type { Redis } from 'ioredis';
import type { HealthFacts } from '../../adapters/adapter-hooks.js';
import { parseRedisInfo, parseRedisReplicas } from './parse-redis-info.js';
import type { RedisSentinelSettings } from './redis-client-options.js';

/**
 * PING (its round trip is the reported latency) and INFO on the command connection: role, loading, replication link
 * and replicas, memory against maxmemory, and in Sentinel mode whether the connection really reached the master.
 */
export async function probeRedisHealth(client: Redis, sentinel: RedisSentinelSettings | undefined): Promise<HealthFacts> {
  const started = performance.now();
  await client.call('PING');
  const latency = Math.round((performance.now() - started) * 100) / 100;
  const info = parseRedisInfo(String(await client.call('INFO')));
  const role = info.get('role') === 'slave' ? 'replica' : (info.get('role') ?? 'unknown');
  const reasons: string[] = [];
  if (info.get('loading') === '1') reasons.push('the server is loading its dataset');
  if (role === 'replica' && info.get('master_link_status') !== 'up') reasons.push(`replica's link to its master is ${info.get('master_link_status') ?? 'unknown'}`);
  if (sentinel && role !== 'master') reasons.push(`Sentinel mode expects the master but the connection reached a ${role}`);
  const usedMemory = Number(info.get('used_memory') ?? 0);
  const maxMemory = Number(info.get('maxmemory') ?? 0);
  if (maxMemory > 0 && usedMemory / maxMemory > 0.9) reasons.push(`memory at ${Math.round((100 * usedMemory) / maxMemory)}% of maxmemory`);
  const replicas = parseRedisReplicas(info);
  for (const r of replicas) if (r.state !== 'online') reasons.push(`replica ${r.address} is ${r.state}`);
  const details: Record<string, unknown> = {
    mode: sentinel ? 'sentinel' : 'standalone',
    role,
    connectedClients: Number(info.get('connected_clients') ?? 0),
    blockedClients: Number(info.get('blocked_clients') ?? 0),
    usedMemory,
    maxMemory,
    masterReplOffset: Number(info.get('master_repl_offset') ?? 0),
  };
  if (sentinel) details.masterName = sentinel.masterName;
  if (role === 'master') details.replicas = replicas;
  if (role === 'replica') {
    details.masterLinkStatus = info.get('master_link_status');
    details.replicaReplOffset = Number(info.get('slave_repl_offset') ?? 0);
    // A replica knows when it last heard from its master, not the master's offset: seconds are its lag measure.
    details.replicationLagSeconds = Number(info.get('master_last_io_seconds_ago') ?? -1);
  }
  return { latency, latencyLabel: 'PING', reasons, serverVersion: info.get('redis_version'), inRecovery: role === 'replica', details };
}
