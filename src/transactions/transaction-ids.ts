import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

// Node ids (NODE_ID in config/transactions-schema.ts) are at most 32 characters: 32 (node) + 1 + 30 (global) = 63 bytes: within XA's 64-byte gtrid.
const GLOBAL_ID = /^[a-z0-9]{8,30}$/;

/** What a datakeep transaction id names: the coordinator that wrote it, the distributed transaction, the participant. */
export interface BranchId {
  readonly nodeId: string;
  readonly globalId: string;
  /** 1-based position of the participant in the transaction's participant list. */
  readonly branch: string;
  /**
   * The adapter id of the participant whose committed decision row decides this transaction (commit-markable
   * resource), when there is one: carried in the branch's transaction id so that recovery finds the decision even
   * without the coordinator log.
   */
  readonly decidedBy?: string | undefined;
}

/** Adapter ids that fit into every engine's transaction id next to the branch number (an XA bqual holds 64 bytes). */
const DECISION_HOLDER = /^[A-Za-z0-9_.-]{1,60}$/;

export function canHoldDecision(adapterId: string): boolean {
  return DECISION_HOLDER.test(adapterId);
}

export function isGlobalId(value: unknown): value is string {
  return typeof value === 'string' && GLOBAL_ID.test(value);
}

/**
 * The default node id: the host name (cut to 23 characters) and 8 hex digits of a hash of the state store's location.
 * Two processes on one host with one state store share it, which is what recovery wants (either may finish the
 * other's transactions after a crash); a second deployment on the same host with its own state store gets its own.
 */
export function defaultNodeId(stateLocation: string): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 23) || 'host';
  const hash = createHash('sha256').update(stateLocation).digest('hex').slice(0, 8);
  return `${host}-${hash}`;
}

/** A new global id: milliseconds since the epoch in base 36 (so ids sort by start time) and 64 random bits. */
export function newGlobalId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}
