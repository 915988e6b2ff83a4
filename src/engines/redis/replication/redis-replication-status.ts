import type { NodeStatus, ReplicaLag, ReplicationNode } from '../../../replication/replication-part.js';
import type { RedisReplicaInfo } from '../parse-redis-info.js';
import { describe, nodeEndpoint, withRedisNode } from './redis-node-connection.js';
import { readReplicationInfo, type RedisReplicationInfo } from './redis-replication-info.js';

/** What a master's `slaveN: state=` means in the contract's stream states. */
const STREAM_STATE: Readonly<Record<string, string>> = { online: 'streaming', wait_bgsave: 'backup', send_bulk: 'catchup' };

/**
 * INFO replication on every node in parallel. A replica's lag is read from its master's list (the offset it last
 * acknowledged and the seconds since): bytes = master offset - acknowledged offset, so an idle master with a
 * caught-up replica shows 0. Seconds are Redis' `lag` (time since the last acknowledgement, which ticks every second),
 * reported as 0 when no byte is outstanding: a replica that has everything is not behind in time.
 */
export async function redisReplicationStatus(nodes: readonly ReplicationNode[], timeoutMs: number): Promise<NodeStatus[]> {
  const probes = await Promise.all(
    nodes.map(async (node) => {
      try {
        return { node, info: await withRedisNode(nodeEndpoint(node), 'status', timeoutMs, readReplicationInfo) };
      } catch (error) {
        return { node, error: describe(error) };
      }
    }),
  );
  const byAddress = new Map(probes.map((p) => [`${p.node.host}:${p.node.port}`, p]));
  return probes.map(({ node, info, error }): NodeStatus => {
    if (!info) return unreachable(node, error, probes);
    if (info.role === 'master') return { name: node.name, reachable: true, role: 'primary', position: String(info.offset), readOnly: false };
    const upstreamKey = `${info.masterHost}:${info.masterPort}`;
    const upstream = byAddress.get(upstreamKey);
    const entry = upstream?.info?.replicas.find((r) => r.address === `${node.host}:${node.port}`);
    return {
      name: node.name,
      reachable: true,
      role: 'replica',
      receivedPosition: info.replicaReadOffset === undefined ? undefined : String(info.replicaReadOffset),
      replayedPosition: info.replicaOffset === undefined ? undefined : String(info.replicaOffset),
      upstream: upstream ? upstream.node.name : upstreamKey,
      syncState: entry ? 'async' : undefined,
      streamState: entry ? (STREAM_STATE[entry.state] ?? entry.state) : 'disconnected',
      lag: upstream?.info && entry ? replicaLag(upstream.info, entry) : undefined,
      readOnly: true,
      ...(info.linkStatus !== 'up' ? { error: `master_link_status:${info.linkStatus ?? 'unknown'}` } : {}),
    };
  });
}

/**
 * A node that did not answer (down, or stopped by SIGSTOP) may still be listed by a master: then its role, upstream
 * and lag are the master's view, which is exactly what a stalled replica needs to show.
 */
function unreachable(node: ReplicationNode, error: string | undefined, probes: readonly { node: ReplicationNode; info?: RedisReplicationInfo }[]): NodeStatus {
  for (const p of probes) {
    const entry = p.info?.replicas.find((r) => r.address === `${node.host}:${node.port}`);
    if (p.info && entry) {
      return { name: node.name, reachable: false, error, role: 'replica', upstream: p.node.name, syncState: 'async', streamState: STREAM_STATE[entry.state] ?? entry.state, lag: replicaLag(p.info, entry), readOnly: true };
    }
  }
  return { name: node.name, reachable: false, error, role: 'unknown' };
}

function replicaLag(master: RedisReplicationInfo, entry: RedisReplicaInfo): ReplicaLag {
  // Redis applies what it receives at once and acknowledges what it processed: one figure for all three stages.
  const bytes = Math.max(0, master.offset - entry.offset);
  const seconds = bytes === 0 ? 0 : entry.lagSeconds;
  return { writeBytes: bytes, flushBytes: bytes, replayBytes: bytes, writeSeconds: seconds, flushSeconds: seconds, replaySeconds: seconds };
}
