import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import { historyConformanceSuite, type HistoryTarget } from '../support/history-conformance.js';
import { mariadbNamespace, mongodbNamespace, pgliteNamespace, postgresNamespace, redisNamespace } from '../support/engine-namespaces.js';
import { everyEngineWithPartHasATarget } from '../support/part-coverage.js';

/** The migration history of every engine that offers one, against real servers (MongoDB only with MONGODB_URL). */
const mongodbUrl = process.env.MONGODB_URL;

/** The name in a location such as `table x`, `stream k`, `collection c`; fails when the location has another form. */
function named(location: string, what: string): string {
  const match = new RegExp(`^${what} (\\S+)$`).exec(location);
  if (!match) throw new Error(`location "${location}" does not name a ${what}`);
  return match[1]!;
}

async function countRows(adapter: DatabaseAdapter, location: string): Promise<number> {
  const rows = await adapter.query<{ c: unknown }>(`SELECT count(*) AS c FROM ${named(location, 'table')}`);
  return Number(rows[0]?.c);
}

const targets: HistoryTarget[] = [
  { name: 'postgresql (127.0.0.1:5432)', engine: 'postgresql', namespace: postgresNamespace, countAt: countRows },
  { name: 'pglite (embedded, on disk)', engine: 'pglite', namespace: pgliteNamespace, countAt: countRows },
  { name: 'mariadb (127.0.0.1:3306)', engine: 'mariadb', namespace: mariadbNamespace, countAt: countRows },
  {
    name: 'redis (127.0.0.1:6379, a key prefix)',
    engine: 'redis',
    namespace: redisNamespace,
    countAt: async (adapter, location) => Number(await adapter.command(['XLEN', named(location, 'stream')])),
  },
  {
    name: 'mongodb (MONGODB_URL)',
    engine: 'mongodb',
    ...(mongodbUrl ? {} : { skip: 'MONGODB_URL not set: no MongoDB server here (set it to a mongodb:// URL to run this suite)' }),
    namespace: () => mongodbNamespace(mongodbUrl!),
    countAt: async (adapter, location) => ((await adapter.command({ find: named(location, 'collection'), filter: {} })) as unknown[]).length,
  },
];

everyEngineWithPartHasATarget('migrations', targets);
for (const target of targets) historyConformanceSuite(target);
