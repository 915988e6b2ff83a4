import { after } from 'node:test';
import type { TransactionContext } from '../../src/adapters/database-adapter.js';
import type { MongoTransactionContext } from '../../src/engines/mongodb/mongodb-adapter.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import { clusterNamespace, mariadbNamespace, mongodbNamespace, pgliteNamespace, postgresNamespace, redisNamespace } from '../support/engine-namespaces.js';
import { participantConformanceSuite, type ParticipantTarget } from '../support/participant-conformance.js';
import { everyEngineWithPartHasATarget } from '../support/part-coverage.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { mongodbDeployment, NEEDS_REPLICA_SET } from '../support/mongodb-deployment.js';

/**
 * The transaction part of every engine that offers one, against real servers (MongoDB only with MONGODB_URL). The
 * machine's PostgreSQL runs with max_prepared_transactions = 0, so PostgreSQL's XA participant runs on a throwaway
 * cluster that can prepare, started on first use, and the machine's server serves as the one that cannot.
 */
const mongodbUrl = process.env.MONGODB_URL;
// The last resource is a MongoDB transaction: a standalone (FerretDB) cannot run one.
const mongodbSkip = !mongodbUrl
  ? 'MONGODB_URL not set: no MongoDB server here (set it to a mongodb:// URL to run this suite)'
  : (await mongodbDeployment(mongodbUrl)).replicaSet ? undefined : NEEDS_REPLICA_SET;

let cluster: Promise<ThrowawayPostgres> | undefined;
const preparingCluster = () => (cluster ??= ThrowawayPostgres.start({ name: 'parts-xa', config: ['max_prepared_transactions = 16'] }));
after(async () => {
  await (await cluster?.catch(() => undefined))?.destroy();
});

const targets: ParticipantTarget[] = [
  {
    name: 'postgresql (a throwaway cluster with max_prepared_transactions = 16)',
    engine: 'postgresql',
    namespace: async () => clusterNamespace(await preparingCluster()),
    xa: {
      preparedScope: 'database',
      neighbour: async () => clusterNamespace(await preparingCluster()),
      finishWhileAttached: 'done',
      incapable: { namespace: postgresNamespace, says: /max_prepared_transactions = 0/ },
    },
    commitMarkable: true,
    deadline: { blocker: 'row-lock' },
  },
  {
    name: 'pglite (embedded, on disk)',
    engine: 'pglite',
    namespace: pgliteNamespace,
    deadline: { blocker: { sleep: 'SELECT pg_sleep(2)' }, gap: 'PGlite does not enforce statement_timeout: the statement runs to its end, and only the late callback is rolled back' },
  },
  {
    name: 'mariadb (127.0.0.1:3306)',
    engine: 'mariadb',
    namespace: mariadbNamespace,
    xa: { preparedScope: 'server', neighbour: mariadbNamespace, finishWhileAttached: 'attached' },
    deadline: { blocker: 'row-lock' },
  },
  {
    name: 'redis (127.0.0.1:6379, a key prefix)',
    engine: 'redis',
    namespace: redisNamespace,
    lastResource: {
      write: async (tx: TransactionContext, key, value) => void (tx as RedisTransactionContext).queue(['SET', key, value]),
      read: async (adapter, key) => ((await adapter.command(['GET', key])) as string | null) ?? undefined,
    },
  },
  {
    name: 'mongodb (MONGODB_URL)',
    engine: 'mongodb',
    ...(mongodbSkip === undefined ? {} : { skip: mongodbSkip }),
    namespace: () => mongodbNamespace(mongodbUrl!),
    lastResource: {
      write: async (tx: TransactionContext, key, value) => void (await (tx as MongoTransactionContext).command({ insert: 'conformance', documents: [{ _id: key, v: value }] })),
      read: async (adapter, key) => ((await adapter.command({ find: 'conformance', filter: { _id: key } })) as { v?: string }[])[0]?.v,
    },
  },
];

everyEngineWithPartHasATarget('transactions', targets);
for (const target of targets) participantConformanceSuite(target);
