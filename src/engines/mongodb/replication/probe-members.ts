import { MongoServerError } from 'mongodb';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { describeError, type NodeClients } from './node-clients.js';
import type { NodeProbe } from './node-statuses.js';
import { readReplSetView } from './repl-set-view.js';

/** NoReplicationEnabled (a standalone mongod) and NotYetInitialized (--replSet without rs.initiate()). */
const NOT_A_MEMBER = new Set([76, 94]);

/** replSetGetStatus on each node, in parallel; a node that cannot answer becomes an error, never an exception. */
export function probeMembers(clients: NodeClients, nodes: readonly ReplicationNode[], timeoutMs: number): Promise<NodeProbe[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeProbe> => {
      try {
        return { node, view: readReplSetView(await clients.admin(node, { replSetGetStatus: 1 }, 'status', timeoutMs)) };
      } catch (error) {
        if (error instanceof MongoServerError && typeof error.code === 'number' && NOT_A_MEMBER.has(error.code)) {
          const hint = error.code === 76 ? 'start mongod with --replSet <name>, then run rs.initiate() once' : 'run rs.initiate() once in mongosh';
          return { node, answered: true, error: `not a replica set member (${describeError(error)}); ${hint}` };
        }
        return { node, error: describeError(error) };
      }
    }),
  );
}
