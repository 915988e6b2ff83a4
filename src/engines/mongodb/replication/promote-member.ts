import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { mapReplicationError } from './map-replication-error.js';
import { sameMember } from './member-name.js';
import { memberNode } from './member-nodes.js';
import { withNodeClients } from './node-clients.js';
import { encodePosition } from './optime-position.js';
import { MemberState, readReplSetView, type ReplSetView } from './repl-set-view.js';
import { stepDownPrimary } from './step-down.js';
import { waitForPrimary } from './wait-for-primary.js';

/**
 * MongoDB has no "promote": elections choose the primary. What datakeep can do is make `replica` the member they
 * choose: with a primary up, raise the replica's priority and step the primary down (stepDownPrimary); with none
 * (a failover in progress), wait, bounded, for the set to elect one and then do the same if it elected another.
 * Returns the replica's term and applied position once it is the writable primary.
 */
export async function promoteMember(replica: ReplicationNode, timeoutMs: number): Promise<{ position: string; timeline?: number }> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  return withNodeClients(timeoutMs, async (clients) => {
    const status = async (): Promise<ReplSetView> => {
      try {
        return readReplSetView(await clients.admin(replica, { replSetGetStatus: 1 }, 'promote', left()));
      } catch (error) {
        throw mapReplicationError(error, { node: replica.name, step: 'promote' });
      }
    };
    let view = await status();
    if (view.myState === MemberState.ARBITER) {
      throw new ReplicationError('refused', `${replica.name} is an arbiter: it holds no data and can never be primary`, { node: replica.name, step: 'promote' });
    }
    if (view.myState !== MemberState.PRIMARY) {
      let primaryName = view.primary?.name;
      if (!primaryName) {
        const members = view.members.filter((m) => m.state !== MemberState.ARBITER).map((m) => memberNode(m.name, replica));
        primaryName = await waitForPrimary(clients, members, {}, Date.now() + Math.floor(left() / 2));
      }
      if (!view.self || !sameMember(primaryName, view.self.name)) {
        await stepDownPrimary(clients, memberNode(primaryName, replica), replica, left());
      }
      view = await status();
    }
    if (view.myState !== MemberState.PRIMARY || !view.ownApplied) {
      throw new ReplicationError('failed', `${replica.name} is ${view.self?.stateStr ?? 'not primary'} after the election`, { node: replica.name, step: 'promote' });
    }
    return { position: encodePosition(view.ownApplied), ...(view.term !== undefined ? { timeline: view.term } : {}) };
  });
}
