import type { Document } from 'mongodb';
import { readOptime, toNumber, type Optime } from './optime-position.js';

/**
 * Member states as replSetGetStatus numbers them (https://www.mongodb.com/docs/manual/reference/replica-states/).
 * An unreachable member is reported with state 8 (DOWN), health 0 and stateStr "(not reachable/healthy)".
 */
export const MemberState = { STARTUP: 0, PRIMARY: 1, SECONDARY: 2, RECOVERING: 3, STARTUP2: 5, UNKNOWN: 6, ARBITER: 7, DOWN: 8, ROLLBACK: 9, REMOVED: 10 } as const;

/** One entry of replSetGetStatus.members, as one member sees it. */
export interface MemberView {
  /** `host:port` as the replica set configuration names the member. */
  readonly name: string;
  readonly state: number;
  readonly stateStr: string;
  /** False when the reporting member's last heartbeat to it failed (health 0). Always true for `self`. */
  readonly healthy: boolean;
  readonly self: boolean;
  /** Last applied (optime), journaled (optimeDurable) and, on 8.0+, written (optimeWritten) operations. */
  readonly applied?: Optime;
  readonly durable?: Optime;
  readonly written?: Optime;
  /** The wall-clock seconds of those operations, from optimeDate / optimeDurableDate / optimeWrittenDate (ms). */
  readonly appliedAt?: number;
  readonly durableAt?: number;
  readonly writtenAt?: number;
  /** `host:port` of the member it replicates from; undefined for a primary (MongoDB reports ""). */
  readonly syncSource?: string;
  /** Why a heartbeat failed, e.g. "Error connecting to ... :: caused by :: Connection refused". */
  readonly heartbeatMessage?: string;
}

/** A replSetGetStatus reply: the set as the member that answered sees it. */
export interface ReplSetView {
  readonly set: string;
  /** The member's own state (myState). */
  readonly myState: number;
  /** The election count this member knows: datakeep's "timeline" for MongoDB. */
  readonly term: number | undefined;
  readonly members: readonly MemberView[];
  /** The answering member's own entry (`self: true`). */
  readonly self: MemberView | undefined;
  /** The primary among `members` that this member can reach, if any. */
  readonly primary: MemberView | undefined;
  /** This member's own positions from `optimes` (fresher than its members entry on a secondary). */
  readonly ownApplied?: Optime;
  readonly ownDurable?: Optime;
  readonly ownWritten?: Optime;
}

/** Reads a replSetGetStatus reply; fields MongoDB leaves out on some versions stay undefined. */
export function readReplSetView(reply: Document): ReplSetView {
  const raw: unknown[] = Array.isArray(reply.members) ? reply.members : [];
  const members = raw.filter((m): m is Document => typeof m === 'object' && m !== null).map(readMember);
  const optimes = (typeof reply.optimes === 'object' && reply.optimes !== null ? reply.optimes : {}) as Document;
  const self = members.find((m) => m.self);
  const view: { -readonly [K in keyof ReplSetView]: ReplSetView[K] } = {
    set: typeof reply.set === 'string' ? reply.set : '',
    myState: toNumber(reply.myState) ?? MemberState.UNKNOWN,
    term: toNumber(reply.term),
    members,
    self,
    primary: members.find((m) => m.state === MemberState.PRIMARY && m.healthy),
  };
  const applied = readOptime(optimes.appliedOpTime) ?? self?.applied;
  const durable = readOptime(optimes.durableOpTime) ?? self?.durable;
  const written = readOptime(optimes.writtenOpTime) ?? self?.written;
  if (applied) view.ownApplied = applied;
  if (durable) view.ownDurable = durable;
  if (written) view.ownWritten = written;
  return view;
}

function readMember(m: Document): MemberView {
  const state = toNumber(m.state) ?? MemberState.UNKNOWN;
  const self = m.self === true;
  const member: { -readonly [K in keyof MemberView]: MemberView[K] } = {
    name: typeof m.name === 'string' ? m.name : `member ${String(m._id)}`,
    state,
    stateStr: typeof m.stateStr === 'string' ? m.stateStr : `state ${state}`,
    // `health` is absent on the member's own entry (the docs: "only present for the other members").
    healthy: self || m.health === undefined || toNumber(m.health) === 1,
    self,
  };
  const set = <K extends 'applied' | 'durable' | 'written'>(key: K, value: Optime | undefined) => {
    if (value) member[key] = value;
  };
  set('applied', readOptime(m.optime));
  set('durable', readOptime(m.optimeDurable));
  set('written', readOptime(m.optimeWritten));
  const at = (date: unknown, optime: Optime | undefined): number | undefined => (optime ? millis(date) : undefined);
  const appliedAt = at(m.optimeDate, member.applied);
  const durableAt = at(m.optimeDurableDate, member.durable);
  const writtenAt = at(m.optimeWrittenDate, member.written);
  if (appliedAt !== undefined) member.appliedAt = appliedAt;
  if (durableAt !== undefined) member.durableAt = durableAt;
  if (writtenAt !== undefined) member.writtenAt = writtenAt;
  const source = typeof m.syncSourceHost === 'string' ? m.syncSourceHost : typeof m.syncingTo === 'string' ? m.syncingTo : '';
  if (source !== '') member.syncSource = source;
  if (typeof m.lastHeartbeatMessage === 'string' && m.lastHeartbeatMessage !== '') member.heartbeatMessage = m.lastHeartbeatMessage;
  return member;
}

function millis(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'string' || typeof value === 'number') {
    const ms = new Date(value).getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
