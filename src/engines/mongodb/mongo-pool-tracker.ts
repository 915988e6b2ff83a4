/** The slice of the driver's connection pool events this tracker reads (every CMAP event names its pool address). */
export interface PoolEventSlice {
  readonly address: string;
  /** Present on per-connection events (created, closed, checked out/in). */
  readonly connectionId?: number | '<monitor>';
}

export interface PoolSnapshot {
  readonly active: number;
  readonly idle: number;
  readonly waiting: number;
  readonly total: number;
}

interface PoolState {
  readonly open: Set<number | string>;
  readonly checkedOut: Set<number | string>;
  waiting: number;
}

/**
 * Connection counts from the driver's connection pool (CMAP) events, summed over the pools of every server the
 * client talks to. Connections are tracked by id, so a connection closed while checked out, or an event seen twice,
 * cannot drive a count negative; `waiting` is checkouts started minus checkouts finished (succeeded or failed).
 * Memory is bounded by the pool sizes.
 */
export class MongoPoolTracker {
  readonly #pools = new Map<string, PoolState>();

  #pool(address: string): PoolState {
    let pool = this.#pools.get(address);
    if (!pool) {
      pool = { open: new Set(), checkedOut: new Set(), waiting: 0 };
      this.#pools.set(address, pool);
    }
    return pool;
  }

  connectionCreated(event: PoolEventSlice): void {
    if (event.connectionId !== undefined) this.#pool(event.address).open.add(event.connectionId);
  }

  connectionClosed(event: PoolEventSlice): void {
    const pool = this.#pools.get(event.address);
    if (!pool || event.connectionId === undefined) return;
    pool.open.delete(event.connectionId);
    pool.checkedOut.delete(event.connectionId);
  }

  checkOutStarted(event: PoolEventSlice): void {
    this.#pool(event.address).waiting += 1;
  }

  checkOutFailed(event: PoolEventSlice): void {
    const pool = this.#pool(event.address);
    pool.waiting = Math.max(0, pool.waiting - 1);
  }

  checkedOut(event: PoolEventSlice): void {
    const pool = this.#pool(event.address);
    pool.waiting = Math.max(0, pool.waiting - 1);
    if (event.connectionId !== undefined) {
      pool.open.add(event.connectionId);
      pool.checkedOut.add(event.connectionId);
    }
  }

  checkedIn(event: PoolEventSlice): void {
    if (event.connectionId !== undefined) this.#pools.get(event.address)?.checkedOut.delete(event.connectionId);
  }

  /** A closed pool (server removed, client closed) holds nothing any more. */
  poolClosed(event: PoolEventSlice): void {
    this.#pools.delete(event.address);
  }

  snapshot(): PoolSnapshot {
    let active = 0;
    let total = 0;
    let waiting = 0;
    for (const pool of this.#pools.values()) {
      active += pool.checkedOut.size;
      total += pool.open.size;
      waiting += pool.waiting;
    }
    return { active, idle: Math.max(0, total - active), waiting, total };
  }
}
