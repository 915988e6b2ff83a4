import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode, SyncSettings } from '../../../replication/replication-part.js';
import { mapReplicationError } from './map-replication-error.js';
import { withNodeClients } from './node-clients.js';
import { toNumber } from './optime-position.js';
import { MemberState, readReplSetView } from './repl-set-view.js';
import { syncSettingsInForce, writeConcernFor } from './sync-write-concern.js';

/**
 * Sync mode on MongoDB is the cluster-wide default write concern (setDefaultRWConcern on the primary; see
 * sync-write-concern.ts): writes that name no write concern wait for it, without a wtimeout, so that when too few
 * members are up writes wait rather than silently succeed on fewer (the engine's behaviour, as issue 12 asks).
 * Returns what getDefaultRWConcern then reports.
 */
export async function configureSync(primary: ReplicationNode, settings: SyncSettings, timeoutMs: number): Promise<SyncSettings> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  return withNodeClients(timeoutMs, async (clients) => {
    try {
      const reply = await clients.admin(primary, { replSetGetStatus: 1 }, 'status', left());
      const view = readReplSetView(reply);
      if (view.myState !== MemberState.PRIMARY) {
        throw new ReplicationError('not-a-primary', `${primary.name} is ${view.self?.stateStr ?? 'not the primary'}; the default write concern is set on the primary${view.primary ? ` (${view.primary.name})` : ''}`, { node: primary.name, step: 'configure-sync' });
      }
      const dataBearing = view.members.filter((m) => m.state !== MemberState.ARBITER);
      const majority = toNumber(reply.writeMajorityCount) ?? Math.floor(dataBearing.length / 2) + 1;
      const concern = writeConcernFor(settings, majority, primary.name);
      await clients.admin(primary, { setDefaultRWConcern: 1, defaultWriteConcern: concern, maxTimeMS: left() }, 'setDefaultRWConcern', left());
      const inForce = await clients.admin(primary, { getDefaultRWConcern: 1 }, 'getDefaultRWConcern', left());
      const standbys = dataBearing.filter((m) => m.state !== MemberState.PRIMARY).map((m) => m.name);
      return syncSettingsInForce(inForce, majority, standbys);
    } catch (error) {
      throw mapReplicationError(error, { node: primary.name, step: 'configure-sync' });
    }
  });
}
