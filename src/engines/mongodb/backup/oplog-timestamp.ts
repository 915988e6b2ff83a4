import { Timestamp } from 'mongodb';

/** An oplog position (`ts`): seconds since the epoch and an increment within the second. */
export interface OplogTime {
  readonly t: number;
  readonly i: number;
}

export function fromTimestamp(ts: Timestamp): OplogTime {
  return { t: ts.high, i: ts.low };
}

export function toTimestamp(time: OplogTime): Timestamp {
  return new Timestamp({ t: time.t, i: time.i });
}

export function compareOplogTime(a: OplogTime, b: OplogTime): number {
  return a.t - b.t || a.i - b.i;
}

/** "t.i", as stored in backup metadata and shown to users (mongodump's --oplogLimit writes the same two numbers). */
export function formatOplogTime(time: OplogTime): string {
  return `${time.t}.${time.i}`;
}

export function parseOplogTime(text: string): OplogTime | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(text);
  return match ? { t: Number(match[1]), i: Number(match[2]) } : undefined;
}

/** Wall-clock instant of a position (second precision: the oplog's `ts` counts seconds). */
export function oplogTimeDate(time: OplogTime): Date {
  return new Date(time.t * 1000);
}
