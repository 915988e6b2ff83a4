import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationDriver, ReplicationNode } from '../../../replication/replication-part.js';
import { configureSync } from './configure-sync.js';
import { fenceMember } from './fence-member.js';
import { withNodeClients } from './node-clients.js';
import { nodeStatuses } from './node-statuses.js';
import { comparePositions, distanceSeconds } from './optime-position.js';
import { probeMembers } from './probe-members.js';
import { promoteMember } from './promote-member.js';
import { rejoinMember, repointMember } from './rejoin-member.js';
import { checkFollowsPrimary } from './route-check.js';
import { stepDownPrimary } from './step-down.js';
import { waitForReplay } from './wait-for-replay.js';

function refused(node: ReplicationNode, step: string, message: string): never {
  throw new ReplicationError('refused', `${node.name}: ${message}`, { node: node.name, step });
}

/**
 * MongoDB replica sets: the set's elections are the authority (`authority: 'engine'`): they detect a failed primary
 * and elect a new one by themselves, and the driver follows. datakeep observes (status, lag, positions in seconds) and
 * asks (a switchover is replSetStepDown, a target is preferred by priority). Steps that only an engine without
 * elections needs either map to what MongoDB offers or are refused with what MongoDB does instead; docs/mongodb-replication.md.
 */
export const mongodbReplication: ReplicationDriver = {
  authority: 'engine',

  async status(nodes, { timeoutMs }) {
    return nodeStatuses(await withNodeClients(timeoutMs, (clients) => probeMembers(clients, nodes, timeoutMs)));
  },

  // Members are added to a running set (rs.add / replSetReconfig), and they copy the data themselves (initial sync);
  // starting a mongod is the deployment's job, not a datakeep step.
  async createReplica(_primary, replica) {
    refused(replica, 'create-replica', 'MongoDB members copy their data themselves: start mongod with --replSet <set name> on an empty dbPath, then run rs.add("host:port") on the primary; the new member syncs on its own (initial sync)');
  },

  configureSync: (primary, settings, { timeoutMs }) => configureSync(primary, settings, timeoutMs),

  // replSetStepDown stops writes, waits for a caught-up secondary and hands over in one step: a separate "stop
  // writes" would only add a window with no primary (nativeSwitchover does the whole switchover).
  async stopWrites(primary) {
    refused(primary, 'stop-writes', 'MongoDB stops writes as part of replSetStepDown, which datakeep runs for a switchover (nativeSwitchover); there is no separate step');
  },
  async resumeWrites(primary) {
    refused(primary, 'resume-writes', 'MongoDB has no stopped-writes state to undo: a step-down that finds no caught-up secondary leaves the primary taking writes');
  },

  waitForReplay: (replica, position, { timeoutMs }) => waitForReplay(replica, position, timeoutMs),

  promote: (replica, { timeoutMs }) => promoteMember(replica, timeoutMs),

  fence: (node, newPrimary, { timeoutMs }) => fenceMember(node, newPrimary, timeoutMs),

  repoint: (replica, newPrimary, { timeoutMs }) => repointMember(replica, newPrimary, timeoutMs),

  rejoin: (node, _newPrimary, { timeoutMs }) => rejoinMember(node, timeoutMs),

  comparePositions,

  /** In SECONDS: a MongoDB position is an optime, whose timestamp is a wall-clock second (optime-position.ts). */
  distance: distanceSeconds,

  async route(adapter, node) {
    checkFollowsPrimary(adapter, node);
  },

  async nativeSwitchover(primary, target, { timeoutMs }) {
    await withNodeClients(timeoutMs, (clients) => stepDownPrimary(clients, primary, target, timeoutMs));
  },
};
