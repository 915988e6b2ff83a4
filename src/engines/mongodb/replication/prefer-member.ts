import type { Document } from 'mongodb';
import { ReplicationError } from '../../../errors/index.js';
import { toNumber } from './optime-position.js';
import { sameMember } from './member-name.js';

/** The highest priority a member can have (https://www.mongodb.com/docs/manual/reference/replica-configuration/). */
const MAX_PRIORITY = 1000;

/**
 * Makes `target` the member elections prefer: a replica set configuration (replSetGetConfig's `config`) in which its
 * priority is above every other member's, with `version` incremented as replSetReconfig requires. Returns undefined
 * when it already is. The raised priority stays: lowering it again after the switchover would let the former
 * favourite take the primary back (a priority takeover). Members elections can never pick (arbiters, hidden or
 * priority-0 members, non-voters) are refused, since only their configuration can change that and it is the user's.
 */
export function preferMember(config: Document, target: string): Document | undefined {
  const members: Document[] = Array.isArray(config.members) ? config.members : [];
  const member = members.find((m) => typeof m.host === 'string' && sameMember(m.host, target));
  if (!member) {
    throw new ReplicationError('refused', `${target} is not a member of replica set "${String(config._id)}" (members: ${members.map((m) => String(m.host)).join(', ')}); add it with rs.add() first`, { node: target, step: 'prefer-target' });
  }
  const why = member.arbiterOnly === true ? 'it is an arbiter'
    : member.hidden === true ? 'it is hidden'
    : (toNumber(member.priority) ?? 1) === 0 ? 'its priority is 0'
    : (toNumber(member.votes) ?? 1) === 0 ? 'it has no vote'
    : undefined;
  if (why) {
    throw new ReplicationError('refused', `${target} can never be elected primary: ${why}. Change its member configuration with rs.reconfig() if it should be able to take over`, { node: target, step: 'prefer-target' });
  }
  const own = toNumber(member.priority) ?? 1;
  const others = Math.max(0, ...members.filter((m) => m !== member).map((m) => toNumber(m.priority) ?? 1));
  if (own > others) return undefined;
  const raised = others + 1;
  if (raised > MAX_PRIORITY) {
    throw new ReplicationError('refused', `${target} cannot be given a priority above ${others} (the maximum is ${MAX_PRIORITY}); lower the other members' priorities`, { node: target, step: 'prefer-target' });
  }
  // The primary stamps a reconfiguration with its own term; an old term sent back is at best ignored.
  const { term: _term, ...rest } = config;
  return {
    ...rest,
    version: (toNumber(config.version) ?? 0) + 1,
    members: members.map((m) => (m === member ? { ...m, priority: raised } : m)),
  };
}
