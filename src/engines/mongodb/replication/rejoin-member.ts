import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { mapReplicationError } from './map-replication-error.js';
import { isNode } from './member-name.js';
import { describeError, withNodeClients } from './node-clients.js';
import { MemberState, readReplSetView } from './repl-set-view.js';

/**
 * A former primary rejoins a replica set by itself when its mongod runs again with the same --replSet: it finds the
 * newer term, rolls back what no majority had (into its dbPath's rollback/ directory) and syncs as a secondary.
 * datakeep only lifts its fence (replSetFreeze 0) so that it may stand for election again. `rewound` is false: any
 * rollback happened inside mongod, reported in its log, not by datakeep.
 */
export async function rejoinMember(node: ReplicationNode, timeoutMs: number): Promise<{ rewound: boolean }> {
  return withNodeClients(timeoutMs, async (clients) => {
    let state: number;
    try {
      state = readReplSetView(await clients.admin(node, { replSetGetStatus: 1 }, 'rejoin')).myState;
    } catch (error) {
      throw new ReplicationError(
        'unreachable',
        `${node.name} is not running (${describeError(error)}): start its mongod with the same --replSet name; it rejoins as a secondary by itself (MongoDB rolls back writes no majority had into rollback/)`,
        { node: node.name, step: 'rejoin', cause: error },
      );
    }
    if (state === MemberState.PRIMARY) return { rewound: false };
    try {
      await clients.admin(node, { replSetFreeze: 0 }, 'rejoin');
    } catch (error) {
      throw mapReplicationError(error, { node: node.name, step: 'rejoin' });
    }
    return { rewound: false };
  });
}

/**
 * Members choose their sync source themselves (chaining allowed or not, by ping time and optime), so after an
 * election nothing needs re-pointing. replSetSyncFrom is MongoDB's temporary override and is what this does: the
 * replica pulls from the new primary until its next sync-source choice.
 */
export async function repointMember(replica: ReplicationNode, newPrimary: ReplicationNode, timeoutMs: number): Promise<void> {
  await withNodeClients(timeoutMs, async (clients) => {
    try {
      const view = readReplSetView(await clients.admin(replica, { replSetGetStatus: 1 }, 'repoint'));
      const source = view.members.find((m) => isNode(newPrimary, m.name));
      if (!source) {
        throw new ReplicationError('refused', `${newPrimary.name} is not a member of replica set "${view.set}" (members: ${view.members.map((m) => m.name).join(', ')})`, { node: replica.name, step: 'repoint' });
      }
      if (view.myState === MemberState.PRIMARY || (view.self && source.name === view.self.name)) return;
      await clients.admin(replica, { replSetSyncFrom: source.name }, 'repoint');
    } catch (error) {
      throw mapReplicationError(error, { node: replica.name, step: 'repoint' });
    }
  });
}
