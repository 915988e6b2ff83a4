import { MongoClient } from 'mongodb';

/** What the server at a MongoDB URL is, for tests that skip what it cannot do (FerretDB: no replica set). */
export interface MongodbDeployment {
  /** A replica-set member or mongos: transactions, change streams, the oplog of a replica set. */
  readonly replicaSet: boolean;
  /** FerretDB (buildInfo says so): MongoDB's wire protocol on SQL, with the gaps docs/mongodb-testing.md lists. */
  readonly ferretdb: boolean;
}

/** Asks the server once (bounded by a 10 s server selection); a server that does not answer fails the test file. */
export async function mongodbDeployment(url: string): Promise<MongodbDeployment> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
  try {
    const admin = client.db('admin');
    const hello = await admin.command({ hello: 1 });
    const build = await admin.command({ buildInfo: 1 });
    return { replicaSet: typeof hello.setName === 'string' || hello.msg === 'isdbgrid', ferretdb: typeof build.ferretdbVersion === 'string' };
  } finally {
    await client.close();
  }
}

/** The skip reason of a test that needs transactions, change streams or elections. */
export const NEEDS_REPLICA_SET = 'needs a MongoDB replica set: MONGODB_URL points to a standalone server (FerretDB 1.x has no transactions, replication or change streams)';
