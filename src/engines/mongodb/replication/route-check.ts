import { ReplicationError } from '../../../errors/index.js';
import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import type { MongodbAdapter } from '../mongodb-adapter.js';

/** SDAM topology types in which the driver itself finds the primary after an election (and retries writes once). */
const FOLLOWS_PRIMARY = new Set(['ReplicaSetWithPrimary', 'ReplicaSetNoPrimary', 'Sharded']);

/**
 * Nothing to re-point on MongoDB: a client connected to a replica set monitors every member and sends each operation
 * to the current primary (or to the member its readPreference picks), so after an election it follows by itself.
 * What can go wrong is an adapter that cannot follow: one host with directConnection, or a URL without the set.
 * That is refused with how to connect instead.
 */
export function checkFollowsPrimary(adapter: DatabaseAdapter, node: ReplicationNode): void {
  // The mongodb engine's part only ever receives its own adapters.
  const type = (adapter as MongodbAdapter).driverTopology();
  if (type !== undefined && FOLLOWS_PRIMARY.has(type)) return;
  throw new ReplicationError(
    'refused',
    `${adapter.id}: the MongoDB driver sees a ${type ?? 'not yet discovered'} topology, so it cannot follow the primary to ${node.name} after an election. ` +
      'Connect with a replica-set connection string (mongodb://host1:27017,host2:27017,host3:27017/db?replicaSet=rs0, or options.replicaSet) and without directConnection: the driver then routes to the primary by itself',
    { node: node.name, step: 'route' },
  );
}
