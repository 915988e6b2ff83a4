export { postgresReplicationDriver } from './postgres-replication-driver.js';
export { replicationSlotName } from './slot-name.js';
export { compareLsn, lsnDistance } from './lsn.js';
