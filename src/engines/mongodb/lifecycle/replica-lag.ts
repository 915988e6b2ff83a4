import type { Document } from 'mongodb';

const PRIMARY = 1;
const SECONDARY = 2;

/**
 * The largest lag of a secondary behind the primary, in seconds, from a `replSetGetStatus` reply (each member's
 * `optimeDate`, the time of its last applied operation); undefined when the set has no secondary or no primary.
 */
export function replicaLagSeconds(status: Document): number | undefined {
  const members = (Array.isArray(status.members) ? status.members : []) as Document[];
  const time = (m: Document) => (m.optimeDate instanceof Date ? m.optimeDate.getTime() : undefined);
  const primary = members.find((m) => m.state === PRIMARY);
  const primaryTime = primary ? time(primary) : undefined;
  const lags = members
    .filter((m) => m.state === SECONDARY)
    .map(time)
    .filter((t): t is number => t !== undefined && primaryTime !== undefined)
    .map((t) => Math.max(0, (primaryTime! - t) / 1000));
  return lags.length ? Math.max(...lags) : undefined;
}
