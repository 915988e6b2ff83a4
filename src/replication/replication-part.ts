import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { ResolvedDatabaseConfig } from '../config/database-config.js';

/**
 * The replication part of an engine (`parts.replication`), implemented in `src/engines/<engine>/replication/`.
 * The ReplicationManager (src/replication/) decides what to do and in which order (switchover, failover, candidate
 * choice, fencing, routing); the driver does each step with the engine's own replication (PostgreSQL streaming
 * replication, Redis REPLICAOF, a MongoDB replica set). Every method has a limit (`timeoutMs`) and throws a
 * ReplicationError naming the node and the step when it cannot finish; none retries on its own.
 */
export interface ReplicationDriver {
  /** What the engine decides by itself: 'datakeep' (datakeep's watcher + authority fail over), or 'engine' (Sentinel, replica-set elections). */
  readonly authority: 'datakeep' | 'engine';

  /** The role, position and lag of every node, probed in parallel; an unreachable node is `reachable: false`, never an exception. */
  status(nodes: readonly ReplicationNode[], options: { timeoutMs: number }): Promise<NodeStatus[]>;

  /**
   * Makes `replica` (a node on this machine with a `dataDir`) a streaming replica of `primary`: copies the primary
   * (pg_basebackup with a replication slot), writes the standby configuration and starts it. Refuses a non-empty
   * data directory.
   */
  createReplica(primary: ReplicationNode, replica: ReplicationNode, options: CreateReplicaOptions): Promise<void>;

  /** Applies the sync settings on the primary (PostgreSQL: synchronous_standby_names, reloaded); returns what is now in force. */
  configureSync(primary: ReplicationNode, settings: SyncSettings, options: { timeoutMs: number }): Promise<SyncSettings>;

  /**
   * Switchover step 1: the primary stops taking writes (new and existing sessions), and the position everything
   * before that point reached is returned; the replicas must replay up to it before one is promoted.
   */
  stopWrites(primary: ReplicationNode, options: { timeoutMs: number }): Promise<{ position: string }>;

  /** Undoes stopWrites when a switchover is abandoned before the promotion. */
  resumeWrites(primary: ReplicationNode, options: { timeoutMs: number }): Promise<void>;

  /** Waits until `replica` has replayed `position` (ReplicationError 'timeout' at the limit). */
  waitForReplay(replica: ReplicationNode, position: string, options: { timeoutMs: number }): Promise<void>;

  /** Promotes a replica (after it replays what it received) and returns its new timeline/epoch and position. */
  promote(replica: ReplicationNode, options: { timeoutMs: number }): Promise<{ position: string; timeline?: number }>;

  /**
   * Makes sure `node` cannot accept writes, whether it is up or down: when up, read-only and its sessions ended;
   * when it has a local data directory, configured so that a restart comes up as a replica of `newPrimary`.
   * Returns what was done, for the event record.
   */
  fence(node: ReplicationNode, newPrimary: ReplicationNode | undefined, options: { timeoutMs: number }): Promise<FenceResult>;

  /** Points a running replica at a new primary (PostgreSQL: primary_conninfo + reload; a slot on the new primary first). */
  repoint(replica: ReplicationNode, newPrimary: ReplicationNode, options: { timeoutMs: number }): Promise<void>;

  /**
   * Brings a fenced former primary back as a replica of `newPrimary` (stopped first; pg_rewind when its history
   * diverged); needs its local data directory.
   */
  rejoin(node: ReplicationNode, newPrimary: ReplicationNode, options: { timeoutMs: number }): Promise<{ rewound: boolean }>;

  /** Orders two positions (LSNs, offsets, optimes): negative when a < b. */
  comparePositions(a: string, b: string): number;

  /** Bytes (or the engine's unit) from `from` to `to`; 0 when `to` is not ahead. */
  distance(from: string, to: string): number;

  /**
   * Points an adapter opened on one node at another, without a restart: new statements go to `node`, sessions on
   * the old node are ended, and statements that were in flight fail with a FailoverError saying whether they may
   * have committed. Used for the write adapter after a failover, and for read adapters.
   */
  route(adapter: DatabaseAdapter, node: ReplicationNode, options: { timeoutMs: number }): Promise<void>;

  /** Engine-native switchover, when the engine has one (Redis FAILOVER, MongoDB replSetStepDown); else the manager runs the steps above. */
  nativeSwitchover?(primary: ReplicationNode, target: ReplicationNode | undefined, options: { timeoutMs: number }): Promise<void>;

  /**
   * With authority 'engine': follows the engine's own failovers (Redis Sentinel's +switch-master) so that the manager
   * knows and records them, after configuring the engine's authority from `failoverTimeoutMs` where it can, and
   * repairs what the engine leaves (a former primary back as a primary). Undefined when this database is not set up
   * for the engine's authority (a Redis database without Sentinels).
   */
  followEngine?(primary: ReplicationNode, handlers: EngineFollowHandlers, options: { failoverTimeoutMs: number; timeoutMs: number }): Promise<EngineFollower | undefined>;
}

export interface EngineFollowHandlers {
  /** The engine made the node at `address` the primary; `detail` says how (the engine's own words). */
  primaryChanged(address: { readonly host: string; readonly port: number }, detail: string): void;
  /** A former primary that came back as a primary was fenced. */
  fenced(node: string, result: FenceResult): void;
  /** Something the follower could not do (it goes on). */
  failed(error: Error): void;
}

export interface EngineFollower {
  /** What was configured on the engine's authority at the start (e.g. the Sentinels' monitor settings). */
  readonly configured: readonly string[];
  stop(): Promise<void>;
}

/** One member of a replicated database: the primary or a replica, as configured. */
export interface ReplicationNode {
  /** Stable name: the configured `name`, else `host:port`. Used in events, metrics labels and the CLI. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly region: string | undefined;
  /** Its data directory when it runs on this machine: needed to create, fence offline, and rejoin it. */
  readonly dataDir: string | undefined;
  /** In sync mode, false keeps this node asynchronous (never counted as a synchronous standby). */
  readonly sync: boolean;
  /** Lower is preferred among equal candidates (and the order of FIRST k). */
  readonly priority: number;
  /** How to connect to it (credentials, TLS, timeouts): the primary's database config with this node's host and port. */
  readonly config: ResolvedDatabaseConfig;
}

export type NodeRole = 'primary' | 'replica' | 'unknown';

/** Lag of a replica as the primary and the replica see it. An idle primary with a caught-up replica has 0 lag. */
export interface ReplicaLag {
  /** Bytes the replica is behind the primary's current position, per stage; undefined when not measurable. */
  readonly writeBytes: number | undefined;
  readonly flushBytes: number | undefined;
  readonly replayBytes: number | undefined;
  /** Seconds, from pg_stat_replication's write/flush/replay_lag (which PostgreSQL resets to null when idle: then 0). */
  readonly writeSeconds: number | undefined;
  readonly flushSeconds: number | undefined;
  readonly replaySeconds: number | undefined;
}

export interface NodeStatus {
  readonly name: string;
  readonly reachable: boolean;
  /** Why not reachable, or what is wrong (no secrets). */
  readonly error?: string;
  readonly role: NodeRole;
  /** PostgreSQL timeline; Redis replication id epoch / MongoDB term when the engine has one. */
  readonly timeline?: number;
  /** A primary's current write position. */
  readonly position?: string;
  /** A replica's received (flushed to its disk) and replayed positions. */
  readonly receivedPosition?: string;
  readonly replayedPosition?: string;
  /** The name of the node this replica streams from, when known. */
  readonly upstream?: string;
  /** As the primary reports it: 'sync' | 'quorum' | 'potential' | 'async'; undefined when not connected. */
  readonly syncState?: 'sync' | 'quorum' | 'potential' | 'async';
  /** As the primary reports it: 'streaming' | 'catchup' | 'startup' | 'backup' | 'stopping'; 'disconnected' when absent. */
  readonly streamState?: string;
  readonly lag?: ReplicaLag;
  /** The node refuses writes (default_transaction_read_only, a fenced primary, a replica). */
  readonly readOnly?: boolean;
}

/** Sync mode as the engine applies it: how many replicas must confirm each commit, and which. */
export interface SyncSettings {
  readonly mode: 'sync' | 'async';
  /** 'any' = quorum of `count` among `standbys` (PostgreSQL ANY k); 'first' = the first `count` by priority (FIRST k). */
  readonly method: 'any' | 'first';
  readonly count: number;
  /** Node names (PostgreSQL application_name) in priority order. */
  readonly standbys: readonly string[];
}

export interface CreateReplicaOptions {
  /** Replication slot on the primary that keeps the WAL the replica still needs. */
  readonly slot: string;
  /** Copy from a datakeep backup instead of the primary (spares the primary); absent: from the primary. */
  readonly fromBackup?: string;
  /** Progress of the copy, in bytes. */
  readonly onProgress?: (copiedBytes: number, totalBytes: number | undefined) => void;
  readonly timeoutMs: number;
}

export interface FenceResult {
  /** What was done, in order, e.g. ['default_transaction_read_only=on', 'sessions terminated', 'standby.signal written']. */
  readonly actions: readonly string[];
  /** True when the node can no longer accept writes even after a restart (its configuration says so). */
  readonly durable: boolean;
}
