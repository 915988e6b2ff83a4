import type { Document } from 'mongodb';

export type MongoTopologyKind = 'standalone' | 'replica-set' | 'sharded';
export type MongoMemberRole = 'primary' | 'secondary' | 'arbiter' | 'mongos' | 'standalone' | 'other';

export interface MongoTopology {
  readonly kind: MongoTopologyKind;
  readonly role: MongoMemberRole;
  readonly setName?: string;
  /** Multi-document transactions need a replica set (or mongos in front of replica-set shards) and sessions. */
  readonly transactions: boolean;
  /** Why transactions are unavailable, when they are. */
  readonly transactionsUnavailableReason?: string;
}

/**
 * Reads what kind of deployment answered a `hello` (or legacy `isMaster`) reply. A standalone mongod has no `setName`
 * and is not a mongos (`msg: "isdbgrid"`); it accepts sessions but refuses transactions.
 */
export function classifyTopology(hello: Document): MongoTopology {
  const setName = typeof hello.setName === 'string' && hello.setName !== '' ? hello.setName : undefined;
  const mongos = hello.msg === 'isdbgrid';
  const kind: MongoTopologyKind = mongos ? 'sharded' : setName ? 'replica-set' : 'standalone';
  const role = memberRole(hello, kind);
  const sessions = hello.logicalSessionTimeoutMinutes !== undefined && hello.logicalSessionTimeoutMinutes !== null;
  let reason: string | undefined;
  if (kind === 'standalone') reason = 'the server is a standalone mongod; MongoDB transactions need a replica set or a sharded cluster';
  else if (!sessions) reason = 'the server does not support sessions (it reports no logicalSessionTimeoutMinutes); transactions need MongoDB 4.0+ (4.2+ on sharded clusters)';
  return { kind, role, ...(setName ? { setName } : {}), transactions: reason === undefined, ...(reason ? { transactionsUnavailableReason: reason } : {}) };
}

function memberRole(hello: Document, kind: MongoTopologyKind): MongoMemberRole {
  if (kind === 'sharded') return 'mongos';
  if (kind === 'standalone') return 'standalone';
  if (hello.isWritablePrimary === true || hello.ismaster === true) return 'primary';
  if (hello.secondary === true) return 'secondary';
  if (hello.arbiterOnly === true) return 'arbiter';
  return 'other';
}
