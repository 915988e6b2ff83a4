import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';

/**
 * A policy as one run applies it: the age turned into one cutoff instant at the run's start, so that every batch,
 * count and delete of the run agrees on which rows match.
 */
export interface BoundPolicy extends LifecyclePolicy {
  /** Rows whose age column is before this instant match; undefined when the policy has no age. */
  readonly cutoff: Date | undefined;
  /**
   * Set while the run empties an expired partition (every row of it matches): batches read that partition, all
   * its rows, instead of the policy's condition on the whole table.
   */
  readonly partition?: string;
}

/** What a driver found out about a policy's target before anything runs (unknown tables and columns fail here). */
export interface TargetInspection {
  /** The target as the engine names it (a quoted table, a collection, a key pattern). */
  readonly target: string;
  /** The columns (fields) that order and identify rows in batches: the primary key, `_id`, the key name. */
  readonly key: readonly string[];
  /** Column names and types, stored in each archive's manifest so that a restore can check its destination. */
  readonly schema: readonly { readonly name: string; readonly type: string }[];
  /** Whole partitions that can go at once (PostgreSQL declarative partitioning), oldest first. */
  readonly partitions?: readonly PartitionInfo[];
}

export interface PartitionInfo {
  readonly name: string;
  /** True when every row of the partition matches the policy (its upper bound is at or before the cutoff). */
  readonly expired: boolean;
  readonly bound: string;
}

/**
 * One row as the lifecycle handles it: its key, and the whole row as one line of text in the engine's exact encoding
 * (PostgreSQL `to_json` text, MongoDB canonical Extended JSON, Redis `DUMP` in base64...). Archives store `record`
 * verbatim and restores hand it back to the engine, so nothing is lost to JavaScript types (microseconds, 64-bit
 * integers, numerics, bytes).
 */
export interface LifecycleRow {
  readonly key: readonly unknown[];
  readonly record: string;
}

/** One batch read in key order. */
export interface LifecycleBatch {
  readonly rows: readonly LifecycleRow[];
  /**
   * Where the next batch starts, when that is not the last row's key: an engine that walks its rows with a cursor
   * (Redis SCAN) gives the cursor here, and gets it back as `after`.
   */
  readonly next?: readonly unknown[];
}

/** What one delete cost: rows removed, and the time spent waiting for locks (the figure users watch). */
export interface RemoveResult {
  readonly removed: number;
  readonly lockWaitMs: number;
}

/** How busy the server is, as far as the engine tells: replica lag drives pauses. */
export interface ServerPressure {
  /** The largest replay lag of any replica, in seconds; undefined when there are no replicas. */
  readonly replicaLagSeconds: number | undefined;
}

/**
 * An engine's data lifecycle (the `lifecycle` part of its definition): find expired rows (keys, documents) in key
 * order, in batches, remove a batch in one short transaction with a lock timeout, drop whole partitions where the
 * engine has them, and put archived rows back. The manager does the rest: policies, archives, pacing, windows, runs.
 */
export interface LifecycleDriver {
  /** What this engine's policies name: tables (SQL), collections (MongoDB) or key patterns (Redis). */
  readonly targets: 'table' | 'collection' | 'keyPattern';
  /** Checks the policy's target on the server (it exists; the age column or the condition works). */
  inspect(adapter: DatabaseAdapter, policy: BoundPolicy): Promise<TargetInspection>;
  /**
   * How many rows match now, of how many in all (a policy matching every row is refused unless confirmed), and the
   * first and last matching key (for the plan and the dry run).
   */
  count(adapter: DatabaseAdapter, policy: BoundPolicy, inspection: TargetInspection): Promise<{ rows: number; total: number; firstKey: readonly unknown[] | undefined; lastKey: readonly unknown[] | undefined }>;
  /**
   * What a run needs before it starts, cheaper than `count` on a large table: whether every row matches (exactly; a
   * policy that would empty its table is refused) and about how many rows match (for progress). Without it the run
   * uses `count`.
   */
  survey?(adapter: DatabaseAdapter, policy: BoundPolicy, inspection: TargetInspection): Promise<{ matchesAll: boolean; total: number; rowsEstimate: number }>;
  /**
   * Up to `limit` matching rows with keys after `after`, in key order. `policy` may name a table the driver detached
   * (a partition), with `where` true for all its rows. `after` is the previous batch's `next`, else its last key;
   * an empty batch ends the run, so a driver walking a cursor returns rows or reaches the cursor's end.
   */
  nextBatch(adapter: DatabaseAdapter, policy: BoundPolicy, inspection: TargetInspection, after: readonly unknown[] | undefined, limit: number): Promise<LifecycleBatch>;
  /**
   * Removes the given rows in one transaction bounded by `lockTimeoutMs` (a lock it cannot get in time fails the
   * whole batch with a LifecycleError 'contended', removing nothing). With `exact` (archived rows) only rows whose
   * current record equals the given one go, so a row changed since it was archived stays; otherwise rows with these
   * keys go if they still match the policy.
   */
  remove(adapter: DatabaseAdapter, policy: BoundPolicy, inspection: TargetInspection, rows: readonly LifecycleRow[], options: { lockTimeoutMs: number; exact: boolean }): Promise<RemoveResult>;
  /** The rows with these keys as they are now (to check, on a rerun, that an archived batch is what the table holds). */
  fetch(adapter: DatabaseAdapter, inspection: TargetInspection, keys: readonly (readonly unknown[])[]): Promise<LifecycleRow[]>;
  /**
   * Puts archived records into `target` (a table, collection or key space; another than the original is allowed) in
   * one transaction where the engine has them. A key that exists already is an error, never an overwrite.
   */
  insert(adapter: DatabaseAdapter, target: string, records: readonly string[]): Promise<number>;
  /** Detaches an expired partition without a long lock, returning the detached table's name (dropped or archived next). */
  detachPartition?(adapter: DatabaseAdapter, inspection: TargetInspection, partition: PartitionInfo, lockTimeoutMs: number): Promise<string>;
  dropTable?(adapter: DatabaseAdapter, table: string, lockTimeoutMs: number): Promise<void>;
  pressure?(adapter: DatabaseAdapter): Promise<ServerPressure>;
}
