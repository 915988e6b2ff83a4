import type { ReplicationDriver } from '../../../replication/replication-part.js';
import { createReplica } from './create-replica.js';
import { fence } from './fence.js';
import { compareLsn, lsnDistance } from './lsn.js';
import { replicationStatus } from './node-status.js';
import { routePostgresAdapter } from './postgres-route.js';
import { promote, waitForReplay } from './promote.js';
import { rejoin } from './rejoin.js';
import { repoint } from './repoint.js';
import { resumeWrites, stopWrites } from './stop-writes.js';
import { configureSync } from './sync-settings.js';

/**
 * PostgreSQL 15 streaming replication as datakeep's replication part: physical slots, synchronous_standby_names,
 * pg_promote, pg_rewind. PostgreSQL elects nothing by itself, so datakeep is the failover authority.
 */
export const postgresReplicationDriver: ReplicationDriver = {
  authority: 'datakeep',
  status: (nodes, { timeoutMs }) => replicationStatus(nodes, timeoutMs),
  createReplica: (primary, replica, options) => createReplica(primary, replica, options),
  configureSync: (primary, settings, { timeoutMs }) => configureSync(primary, settings, timeoutMs),
  stopWrites: (primary, { timeoutMs }) => stopWrites(primary, timeoutMs),
  resumeWrites: (primary, { timeoutMs }) => resumeWrites(primary, timeoutMs),
  waitForReplay: (replica, position, { timeoutMs }) => waitForReplay(replica, position, timeoutMs),
  promote: (replica, { timeoutMs }) => promote(replica, timeoutMs),
  fence: (node, newPrimary, { timeoutMs }) => fence(node, newPrimary, timeoutMs),
  repoint: (replica, newPrimary, { timeoutMs }) => repoint(replica, newPrimary, timeoutMs),
  rejoin: (node, newPrimary, { timeoutMs }) => rejoin(node, newPrimary, timeoutMs),
  comparePositions: compareLsn,
  distance: lsnDistance,
  route: (adapter, node, options) => routePostgresAdapter(adapter, node, options),
};
