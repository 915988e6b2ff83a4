import type { ReplicationNode } from '../../../replication/replication-part.js';
import { isNode, splitMemberName } from './member-name.js';

/**
 * The datakeep node for a replica set member named `member` (`host:port`): the configured node when one matches,
 * else one made from `like` (the same credentials and TLS) with the member's host and port. Replication steps learn
 * the whole set from replSetGetStatus, since a step is only given the nodes it acts on.
 */
export function memberNode(member: string, like: ReplicationNode, known: readonly ReplicationNode[] = []): ReplicationNode {
  const found = [like, ...known].find((n) => isNode(n, member));
  if (found) return found;
  const { host, port } = splitMemberName(member);
  return { ...like, name: member, host, port, dataDir: undefined, region: undefined };
}
