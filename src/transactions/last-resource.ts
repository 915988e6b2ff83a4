import type { TransactionContext } from '../adapters/database-adapter.js';

/**
 * A one-phase participant (Redis MULTI/EXEC, a MongoDB transaction) committed last, after every XA branch prepared.
 * It cannot prepare, so its commit is the decision. To let recovery learn that decision after a crash, the commit
 * writes a marker inside the same atomic unit (a key in the MULTI block, a document in the MongoDB transaction): the
 * marker exists if and only if the participant's work committed.
 */
export interface LastResource {
  readonly adapterId: string;
  readonly type: string;
  /** Runs `body` inside the engine's transaction and commits it together with the marker. */
  run<T>(markerKey: string, body: (context: TransactionContext) => Promise<T>): Promise<T>;
  /** True when the marker exists: the one-phase commit happened. */
  hasMarker(markerKey: string): Promise<boolean>;
  /** Removes the marker once the log says the transaction finished (best effort; markers also expire). */
  clearMarker(markerKey: string): Promise<void>;
}

/** Markers outlive any sane recovery delay, then expire (Redis) so that a lost clean-up leaves nothing forever. */
export const MARKER_TTL_SECONDS = 7 * 24 * 3600;
