/**
 * The seed's replication configuration (`dm.setupReplication({enabled, mode, replicas, failoverTimeout})`), with
 * what a user coming from Patroni or Sentinel expects besides. Also the `replication` section of the config file.
 * The schema that checks it is src/config/replication-config.ts; docs/replication.md explains every field.
 */
export interface ReplicationConfig {
  enabled: boolean;
  /** 'sync': a commit returns once `syncReplicas` replicas have it on disk; 'async': at once. */
  mode: 'sync' | 'async';
  /** The seed's replica list: `{type, host, port, database}` plus the optional fields of ReplicaConfig. */
  replicas: ReplicaConfig[];
  /**
   * Milliseconds the primary may fail its checks before an automatic failover starts (the seed's field; it bounds
   * detection). Default 30000.
   */
  failoverTimeout?: number;
  /** The id of the configured database that is the primary now (default: the first database of a replicating engine). */
  database?: string;
  /**
   * The primary's own settings as a member: name, region, local data directory (for fencing and rejoining it), and its
   * address when the database's own is not a member's (a Redis database connecting through Sentinels).
   */
  primary?: { name?: string; region?: string; dataDir?: string; host?: string; port?: number };
  /** Sync mode: how many replicas confirm each commit (default 1) and how they are chosen (default 'any': a quorum). */
  syncReplicas?: number;
  syncMethod?: 'any' | 'first';
  /** Bytes a replica may be behind the primary's last known position and still be promoted (default 1 MiB). */
  maximumLagOnFailover?: number;
  /** Milliseconds between checks of the primary (default: failoverTimeout / 5, at most 1000, at least 100). */
  checkInterval?: number;
  /** Automatic failover by the instance holding the authority's lease. Default: true when an authority is configured. */
  automaticFailover?: boolean;
  authority?: EtcdAuthorityConfig;
  /** Regions whose replicas may take over, in order of preference; absent: any region. */
  failoverRegions?: string[];
  /** Where `dm.replication.query()` sends reads by default (default 'primary'). */
  readPreference?: ReadPreference;
  /** Reads sent to replicas skip replicas more than this many bytes behind (default: maximumLagOnFailover). */
  maxReadLag?: number;
  /**
   * Explicit opt-in: in sync mode with no synchronous replica connected for this many milliseconds, switch to async
   * (recorded in the audit log) instead of letting writes wait. Absent: never degrade.
   */
  degradeToAsyncAfter?: number;
  /** After a failover, bring the old primary back as a replica when it has a local data directory (default true). */
  rejoinOldPrimary?: boolean;
}

export interface ReplicaConfig {
  /** The seed writes it; it must match the primary's engine. */
  type?: string;
  host: string;
  port: number;
  database?: string;
  username?: string;
  password?: string;
  /** Unique member name (default `host:port`): PostgreSQL's application_name and slot name are derived from it. */
  name?: string;
  region?: string;
  /** Its data directory on this machine: lets datakeep create it (`createReplica`), fence it offline and rejoin it. */
  dataDir?: string;
  /** Sync mode: false keeps this replica asynchronous. Default true. */
  sync?: boolean;
  /** Lower is preferred among candidates with the same position. Default: the order in `replicas`. */
  priority?: number;
}

export interface EtcdAuthorityConfig {
  type: 'etcd';
  /** e.g. ['http://127.0.0.1:2379'] */
  endpoints: string[];
  /** Key prefix (default '/datakeep/'); the cluster's keys are `${prefix}${cluster}/leader` and `/primary`. */
  prefix?: string;
  /** Cluster name (default: the primary database's id). */
  cluster?: string;
  /** Lease TTL in milliseconds (default 10000, at least 2000): how long a crashed holder blocks the others. */
  leaseTtl?: number;
  username?: string;
  password?: string;
}

export type ReadPreference = 'primary' | 'primaryPreferred' | 'replica' | 'replicaPreferred';
