import type { NodeStatus, ReplicaLag, ReplicationNode } from '../../../replication/replication-part.js';
import { messageOf, withNode, type NodeSession } from './node-session.js';

/** One node as it sees itself, plus (for a primary) its pg_stat_replication rows by application_name. */
interface OwnView {
  readonly status: NodeStatus;
  readonly standbys: ReadonlyMap<string, StandbyRow>;
}

interface StandbyRow {
  readonly state: string;
  readonly syncState: NodeStatus['syncState'];
  readonly lag: ReplicaLag;
}

/**
 * The role, positions and lag of every node, probed in parallel, each view merged: a replica's status carries the
 * primary's row about it (stream state, sync state, lag) as well as its own receive/replay positions.
 */
export async function replicationStatus(nodes: readonly ReplicationNode[], timeoutMs: number): Promise<NodeStatus[]> {
  const views = await Promise.all(nodes.map((node) => probe(node, nodes, timeoutMs)));
  const primaries = views.filter((v) => v.status.role === 'primary');
  return views.map((view) => {
    if (view.status.role === 'primary' || primaries.length === 0) return view.status;
    const row = primaries.map((p) => p.standbys.get(view.status.name)).find((r) => r !== undefined);
    if (!row) return { ...view.status, streamState: 'disconnected' };
    return { ...view.status, streamState: row.state, syncState: row.syncState, lag: row.lag };
  });
}

async function probe(node: ReplicationNode, nodes: readonly ReplicationNode[], timeoutMs: number): Promise<OwnView> {
  try {
    return await withNode(node, 'status', timeoutMs, async (session) => {
      const [self] = await session.query<{ recovering: boolean; read_only: string }>(
        "SELECT pg_is_in_recovery() AS recovering, current_setting('transaction_read_only') AS read_only");
      return self?.recovering ? replicaView(node, nodes, session) : primaryView(node, self?.read_only === 'on', session);
    });
  } catch (error) {
    return { status: { name: node.name, reachable: false, role: 'unknown', error: messageOf(error) }, standbys: new Map() };
  }
}

async function primaryView(node: ReplicationNode, readOnly: boolean, session: NodeSession): Promise<OwnView> {
  const [pos] = await session.query<{ position: string; walfile: string }>(
    'SELECT pg_current_wal_lsn()::text AS position, pg_walfile_name(pg_current_wal_lsn()) AS walfile');
  const rows = await session.query<{
    application_name: string; state: string; sync_state: string;
    write_bytes: number | null; flush_bytes: number | null; replay_bytes: number | null;
    write_seconds: number | null; flush_seconds: number | null; replay_seconds: number | null;
  }>(`SELECT application_name, state, sync_state,
        pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8 AS write_bytes,
        pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush_bytes,
        pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_bytes,
        EXTRACT(epoch FROM write_lag)::float8 AS write_seconds,
        EXTRACT(epoch FROM flush_lag)::float8 AS flush_seconds,
        EXTRACT(epoch FROM replay_lag)::float8 AS replay_seconds
      FROM pg_stat_replication`);
  const standbys = new Map<string, StandbyRow>();
  for (const row of rows) {
    // A standby that has not yet reported a position has no measurable byte lag; its *_lag columns are NULL both then
    // and when it is idle and caught up, which is the only case with a position.
    const bytes = (v: number | null) => (v === null ? undefined : Math.max(0, v));
    const seconds = (v: number | null, b: number | null) => (v !== null ? v : b === null ? undefined : 0);
    standbys.set(row.application_name, {
      state: row.state,
      syncState: row.sync_state as NodeStatus['syncState'],
      lag: {
        writeBytes: bytes(row.write_bytes), flushBytes: bytes(row.flush_bytes), replayBytes: bytes(row.replay_bytes),
        writeSeconds: seconds(row.write_seconds, row.write_bytes), flushSeconds: seconds(row.flush_seconds, row.flush_bytes),
        replaySeconds: seconds(row.replay_seconds, row.replay_bytes),
      },
    });
  }
  const timeline = pos ? Number.parseInt(pos.walfile.slice(0, 8), 16) : undefined;
  return { status: { name: node.name, reachable: true, role: 'primary', position: pos?.position, timeline, readOnly }, standbys };
}

async function replicaView(node: ReplicationNode, nodes: readonly ReplicationNode[], session: NodeSession): Promise<OwnView> {
  const [row] = await session.query<{ received: string | null; replayed: string | null; received_tli: number | null; checkpoint_tli: number; sender_host: string | null; sender_port: number | null }>(
    `SELECT pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed,
       r.received_tli, r.sender_host, r.sender_port, (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli
     FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver r ON true`);
  const upstream = row?.sender_host != null ? nodes.find((n) => n.port === row.sender_port && sameHost(n.host, row.sender_host!))?.name ?? `${row.sender_host}:${row.sender_port}` : undefined;
  return {
    status: {
      name: node.name, reachable: true, role: 'replica', readOnly: true,
      receivedPosition: row?.received ?? undefined, replayedPosition: row?.replayed ?? undefined,
      timeline: row?.received_tli ?? row?.checkpoint_tli, upstream,
    },
    standbys: new Map(),
  };
}

function sameHost(a: string, b: string): boolean {
  const loopback = (h: string) => h === 'localhost' || h === '::1' || h.startsWith('127.');
  return a === b || (loopback(a) && loopback(b));
}
