import type { ReplicaLag } from '../../../replication/replication-part.js';
import type { MemberView } from './repl-set-view.js';

/**
 * A secondary's lag behind the primary, in seconds, from ONE replSetGetStatus view (the way mongosh's
 * rs.printSecondaryReplicationInfo() does it): the primary's last applied operation time (optimeDate) minus the
 * member's, per stage: written (optimeWrittenDate, 8.0+) as "write", journaled (optimeDurableDate) as "flush", applied
 * (optimeDate) as "replay". An idle set reads 0, not a growing number: the primary writes a no-op to the oplog
 * periodically, so caught-up members keep the same optime as the primary. MongoDB measures no bytes: those stay
 * undefined. Undefined when the member has no optime (down, or still in initial sync).
 */
export function replicaLag(primary: MemberView, member: MemberView): ReplicaLag | undefined {
  const head = primary.appliedAt;
  if (head === undefined || member.appliedAt === undefined) return undefined;
  const behind = (at: number | undefined) => (at === undefined ? undefined : Math.max(0, (head - at) / 1000));
  return {
    writeBytes: undefined,
    flushBytes: undefined,
    replayBytes: undefined,
    writeSeconds: behind(member.writtenAt),
    flushSeconds: behind(member.durableAt),
    replaySeconds: behind(member.appliedAt),
  };
}
