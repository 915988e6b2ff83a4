import { ReplicationError } from '../../../errors/index.js';

/**
 * A MongoDB optime: the oplog entry's Timestamp (seconds since the epoch and an increment within that second) and the
 * term (election count) in which the primary wrote it. replSetGetStatus reports optimes as `{ts: Timestamp, t: term}`
 * (https://www.mongodb.com/docs/manual/reference/command/replSetGetStatus/, members[n].optime).
 */
export interface Optime {
  readonly term: number;
  readonly seconds: number;
  readonly increment: number;
}

const WIDTH = 10;
const POSITION = /^(\d+):(\d+):(\d+)$/;

/**
 * Reads `{ts, t}` as the driver returns it: `ts` a BSON Timestamp (`.t`/`.i`, or getHighBits/getLowBits on older
 * bson), `t` a number or a Long. A member that never reported reads `{ts: Timestamp(0, 0), t: -1}`: no optime.
 */
export function readOptime(value: unknown): Optime | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { ts, t } = value as { ts?: unknown; t?: unknown };
  const term = toNumber(t);
  const parts = timestampParts(ts);
  if (term === undefined || parts === undefined || term < 0) return undefined;
  if (parts.seconds === 0 && parts.increment === 0) return undefined;
  return { term, ...parts };
}

/**
 * The position string of an optime, `term:seconds:increment`, each padded to 10 digits so that positions also sort as
 * plain strings (terms stay far below 10^10). MongoDB orders optimes by term, then timestamp, and so does this.
 */
export function encodePosition(optime: Optime): string {
  const pad = (n: number) => String(n).padStart(WIDTH, '0');
  return `${pad(optime.term)}:${pad(optime.seconds)}:${pad(optime.increment)}`;
}

export function decodePosition(position: string, field = 'position'): Optime {
  const match = POSITION.exec(position);
  if (!match) {
    throw new ReplicationError('failed', `${field} "${position}" is not a MongoDB position; expected term:seconds:increment as datakeep's status reports it (e.g. 0000000003:1760864474:0000000001)`, { step: 'position' });
  }
  return { term: Number(match[1]), seconds: Number(match[2]), increment: Number(match[3]) };
}

/** Negative when `a` is before `b`: by term, then seconds, then increment (MongoDB's own OpTime order). */
export function comparePositions(a: string, b: string): number {
  const x = decodePosition(a, 'a');
  const y = decodePosition(b, 'b');
  return x.term - y.term || x.seconds - y.seconds || x.increment - y.increment;
}

/**
 * How far `to` is ahead of `from`, in SECONDS (the unit of MongoDB positions: an optime carries a wall-clock second,
 * not a byte offset). 0 when `to` is not ahead. Two optimes within the same second are 0 apart.
 */
export function distanceSeconds(from: string, to: string): number {
  if (comparePositions(to, from) <= 0) return 0;
  return Math.max(0, decodePosition(to, 'to').seconds - decodePosition(from, 'from').seconds);
}

function timestampParts(ts: unknown): { seconds: number; increment: number } | undefined {
  if (typeof ts !== 'object' || ts === null) return undefined;
  const value = ts as { t?: unknown; i?: unknown; getHighBits?: () => number; getLowBits?: () => number };
  if (typeof value.t === 'number' && typeof value.i === 'number') return { seconds: value.t, increment: value.i };
  if (typeof value.getHighBits === 'function' && typeof value.getLowBits === 'function') {
    return { seconds: value.getHighBits() >>> 0, increment: value.getLowBits() >>> 0 };
  }
  return undefined;
}

/** A number, or a bson Long / Int32 / Double (their `toNumber`/`valueOf`). */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'object' && value !== null) {
    const v = value as { toNumber?: () => number; valueOf?: () => unknown };
    if (typeof v.toNumber === 'function') return v.toNumber();
    const primitive = v.valueOf?.();
    if (typeof primitive === 'number') return primitive;
  }
  return undefined;
}
