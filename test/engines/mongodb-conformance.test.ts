import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { MongoClient } from 'mongodb';
import { adapterConformanceSuite } from '../support/adapter-conformance.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { MongodbAdapter } from '../../src/engines/mongodb/mongodb-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

/**
 * The shared conformance suite against the MongoDB deployment given by MONGODB_URL (any replica set or standalone;
 * e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0). There is no MongoDB server on the build machines, so without the
 * variable this file reports one skipped test and nothing else.
 */
const url = process.env.MONGODB_URL;

if (!url) {
  it('MongoDB adapter conformance suite', { skip: 'MONGODB_URL not set: no MongoDB server here (set it to a mongodb:// URL to run this suite)' }, () => {});
} else {
  adapterConformanceSuite({
    name: 'mongodb (MONGODB_URL)',
    async create() {
      // Each run gets its own database, dropped afterwards.
      const database = `dk_test_${randomBytes(5).toString('hex')}`;
      const adapter = new MongodbAdapter(resolveDatabaseConfig({ url, database, id: `mongodb-${database}` }, 'test'), { logger: silentLogger });
      return {
        adapter,
        teardown: async () => {
          const client = new MongoClient(url);
          try {
            await client.db(database).dropDatabase();
          } finally {
            await client.close();
          }
        },
      };
    },
    roundTrip: {
      write: (key, value) => JSON.stringify({ update: 'dk_conformance', filter: { _id: key }, changes: { $set: { v: value } }, upsert: true }),
      read: (key) => JSON.stringify({ find: 'dk_conformance', filter: { _id: key } }),
      decode: (reply) => (reply as { v?: unknown }[])[0]?.v,
    },
  });
}
