/**
 * The authority that decides who may fail a cluster over: a lease held by one datakeep instance, kept in a store that
 * survives that instance's crash and network partitions (etcd). Only the holder acts; every write of the cluster
 * record is conditional on still holding the lease, so an instance that lost it (paused, partitioned) cannot
 * promote or repoint anything afterwards. Implementations: src/replication/etcd-authority.ts.
 */
export interface FailoverAuthority {
  /** Describes the store for messages and the CLI (endpoints without credentials). */
  readonly description: string;

  /**
   * Campaigns for the cluster's leadership as `holder`; resolves when held. Rejects with ReplicationError('timeout')
   * after `timeoutMs` while another instance holds it, or 'unreachable' when the store did not answer the last
   * attempt by then. `signal` abandons the campaign early (a watcher being stopped).
   */
  campaign(holder: string, options: { ttlMs: number; timeoutMs: number; signal?: AbortSignal }): Promise<Leadership>;

  /** The current cluster record, or undefined before the first one is written. */
  read(options: { timeoutMs: number }): Promise<ClusterRecord | undefined>;

  /** Calls `onChange` with each new cluster record (another instance's failover); returns the unsubscribe. */
  watch(onChange: (record: ClusterRecord) => void): Promise<() => Promise<void>>;

  /** Who holds the leadership now, if anyone. */
  leader(options: { timeoutMs: number }): Promise<string | undefined>;

  close(): Promise<void>;
}

export interface Leadership {
  readonly holder: string;
  /** Aborted when the lease is lost: expired (keep-alives failed for its TTL), revoked, or taken over. */
  readonly lost: AbortSignal;
  /**
   * Writes the cluster record only while this leadership still holds (an etcd transaction comparing the lease key),
   * and with `epoch` greater than the stored one; throws ReplicationError('not-leader') otherwise. This is the fencing
   * token: every promotion writes a new epoch before routing any write to the new primary.
   */
  putIfLeader(record: ClusterRecord, options: { timeoutMs: number }): Promise<void>;
  /** Gives the lease up at once (a clean shutdown), so another instance need not wait for its TTL. */
  resign(): Promise<void>;
}

/** Who the primary is, as the authority last decided it. */
export interface ClusterRecord {
  /** Name of the node that is the primary (ReplicationNode.name). */
  readonly primary: string;
  /** Incremented by every switchover and failover. */
  readonly epoch: number;
  /** The new primary's timeline and position when it was promoted. */
  readonly timeline?: number;
  readonly position?: string;
  /** Nodes fenced by this change (the former primary). */
  readonly fenced: readonly string[];
  /** ISO time of the change and the instance that made it. */
  readonly at: string;
  readonly by: string;
  readonly reason: 'bootstrap' | 'switchover' | 'failover' | 'manual-failover';
}
