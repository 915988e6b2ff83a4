import { MongoNetworkError } from 'mongodb';
import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { mapReplicationError } from './map-replication-error.js';
import { memberNode } from './member-nodes.js';
import { isNode, sameMember } from './member-name.js';
import type { NodeClients } from './node-clients.js';
import { preferMember } from './prefer-member.js';
import { MemberState, readReplSetView } from './repl-set-view.js';
import { waitForPrimary } from './wait-for-primary.js';

/** The least time a switchover can work with: a one-second catch-up, the election and the checks around them. */
export const MIN_SWITCHOVER_MS = 3000;
/** How long the old primary may not stand for election; MongoDB's own default (rs.stepDown()). */
const STEP_DOWN_SECS = 60;
/** MongoDB's default catch-up period; less when the caller's limit is short. */
const MAX_CATCH_UP_SECS = 10;

/**
 * replSetStepDown's two periods from the time a switchover may take: the catch-up gets at most half of it (the rest is
 * for the election and for finding the new primary), between 1 and 10 s; the step-down period must exceed it.
 * https://www.mongodb.com/docs/manual/reference/command/replSetStepDown/
 */
export function stepDownTiming(timeoutMs: number): { stepDownSecs: number; catchUpSecs: number } {
  const catchUpSecs = Math.max(1, Math.min(MAX_CATCH_UP_SECS, Math.floor(timeoutMs / 2000)));
  return { stepDownSecs: Math.max(STEP_DOWN_SECS, catchUpSecs + 1), catchUpSecs };
}

/**
 * A planned switchover the way MongoDB does it: when a target is given its priority is raised above the others'
 * (replSetGetConfig + replSetReconfig), then the primary steps down (replSetStepDown, never forced): it stops taking
 * writes, waits up to the catch-up period for an electable secondary to have everything, and only then steps down,
 * so no acknowledged write is lost. Elections pick the new primary; this waits, bounded, until one is writable
 * (the target, when given) and returns its member name.
 */
export async function stepDownPrimary(clients: NodeClients, primary: ReplicationNode, target: ReplicationNode | undefined, timeoutMs: number): Promise<string> {
  if (timeoutMs < MIN_SWITCHOVER_MS) {
    throw new ReplicationError('timeout', `a MongoDB switchover needs at least ${MIN_SWITCHOVER_MS} ms (a catch-up second, the election, the checks); got ${timeoutMs} ms`, { node: primary.name, step: 'switchover' });
  }
  const deadline = Date.now() + timeoutMs;
  const step = async <T>(name: string, work: () => Promise<T>, catchUpSecs?: number): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw mapReplicationError(error, { node: primary.name, step: name, ...(catchUpSecs !== undefined ? { catchUpSecs } : {}) });
    }
  };
  const view = readReplSetView(await step('status', () => clients.admin(primary, { replSetGetStatus: 1 }, 'status')));
  if (view.myState !== MemberState.PRIMARY) {
    const now = view.primary ? `the set's primary is ${view.primary.name}` : 'the set has no primary now';
    throw new ReplicationError('not-a-primary', `${primary.name} is ${view.self?.stateStr ?? 'not the primary'}, not the primary; ${now}`, { node: primary.name, step: 'switchover' });
  }
  const self = view.self?.name ?? `${primary.host}:${primary.port}`;
  const members = view.members.filter((m) => m.state !== MemberState.ARBITER).map((m) => memberNode(m.name, primary, target ? [target] : []));
  const targetName = target ? view.members.find((m) => isNode(target, m.name))?.name : undefined;
  if (target && !targetName) {
    throw new ReplicationError('refused', `${target.name} (${target.host}:${target.port}) is not a member of replica set "${view.set}" (members: ${view.members.map((m) => m.name).join(', ')})`, { node: target.name, step: 'switchover' });
  }
  if (targetName && sameMember(targetName, self)) return self;

  if (targetName) {
    const reply = await step('replSetGetConfig', () => clients.admin(primary, { replSetGetConfig: 1 }, 'replSetGetConfig'));
    const raised = preferMember(reply.config as Record<string, unknown>, targetName);
    if (raised) {
      const maxTimeMS = Math.max(1, deadline - Date.now() - 1000);
      await step('replSetReconfig', () => clients.admin(primary, { replSetReconfig: raised, maxTimeMS }, 'replSetReconfig', maxTimeMS + 1000));
    }
  }

  const { stepDownSecs, catchUpSecs } = stepDownTiming(deadline - Date.now());
  try {
    await clients.admin(primary, { replSetStepDown: stepDownSecs, secondaryCatchUpPeriodSecs: catchUpSecs }, 'step-down', Math.max(1, Math.min(catchUpSecs * 1000 + 5000, deadline - Date.now())));
  } catch (error) {
    // Servers before 4.2 close every connection when they step down: the command's own connection included.
    if (!(error instanceof MongoNetworkError)) throw mapReplicationError(error, { node: primary.name, step: 'step-down', catchUpSecs });
  }
  return waitForPrimary(clients, members, { not: self, ...(targetName ? { target: targetName } : {}) }, deadline);
}
