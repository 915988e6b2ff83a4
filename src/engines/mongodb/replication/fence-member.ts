import type { FenceResult, ReplicationNode } from '../../../replication/replication-part.js';
import { mapReplicationError } from './map-replication-error.js';
import { describeError, withNodeClients } from './node-clients.js';
import { MemberState, readReplSetView } from './repl-set-view.js';
import { stepDownTiming } from './step-down.js';

/** How long a fenced member may not stand for election (replSetFreeze); rejoin() lifts it. */
export const FENCE_FREEZE_SECS = 120;

/**
 * Fencing what MongoDB offers: a primary steps down (never forced: a forced step-down can lose acknowledged writes),
 * and the member is frozen (replSetFreeze) so that it does not stand for election for FENCE_FREEZE_SECS. It is
 * `durable` either way: a replica set member takes writes only after a majority elects it in a newer term, and one
 * that comes back rejoins as a secondary, rolling back what no majority had. An unreachable member is left to that.
 */
export async function fenceMember(node: ReplicationNode, newPrimary: ReplicationNode | undefined, timeoutMs: number): Promise<FenceResult> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const elections = `a member takes writes only when a majority elects it${newPrimary ? ` (${newPrimary.name} holds the newer term)` : ''}`;
  return withNodeClients(timeoutMs, async (clients) => {
    let state: number;
    try {
      state = readReplSetView(await clients.admin(node, { replSetGetStatus: 1 }, 'fence', left())).myState;
    } catch (error) {
      return { actions: [`unreachable (${describeError(error)}): when it returns it rejoins as a secondary, since ${elections}`], durable: true };
    }
    if (state === MemberState.ARBITER) return { actions: ['arbiter: holds no data and never becomes primary'], durable: true };
    const actions: string[] = [];
    try {
      if (state === MemberState.PRIMARY) {
        const { stepDownSecs, catchUpSecs } = stepDownTiming(left());
        await clients.admin(node, { replSetStepDown: stepDownSecs, secondaryCatchUpPeriodSecs: catchUpSecs }, 'fence', catchUpSecs * 1000 + 5000).catch((error: unknown) => {
          throw mapReplicationError(error, { node: node.name, step: 'fence', catchUpSecs });
        });
        actions.push(`replSetStepDown ${stepDownSecs} s (catch-up ${catchUpSecs} s)`);
      }
      await clients.admin(node, { replSetFreeze: FENCE_FREEZE_SECS }, 'fence', left());
      actions.push(`replSetFreeze ${FENCE_FREEZE_SECS} s`);
    } catch (error) {
      throw mapReplicationError(error, { node: node.name, step: 'fence' });
    }
    actions.push(`a restart comes back as a secondary: ${elections}`);
    return { actions, durable: true };
  });
}
