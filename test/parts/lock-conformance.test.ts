import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import type { LockHolder } from '../../src/locks/exclusive-lock.js';
import { lockConformanceSuite, type LockTarget } from '../support/lock-conformance.js';
import { mariadbNamespace, mongodbNamespace, pgliteNamespace, postgresNamespace, redisNamespace } from '../support/engine-namespaces.js';
import { everyEngineWithPartHasATarget } from '../support/part-coverage.js';

/** The migration lock of every engine that offers one, against real servers (MongoDB only with MONGODB_URL). */
const mongodbUrl = process.env.MONGODB_URL;

/** The number `pattern` finds in a holder's description; fails when the description does not name the session. */
function sessionNumber(holder: LockHolder, pattern: RegExp): number {
  const match = pattern.exec(holder.description);
  if (!match) throw new Error(`the holder "${holder.description}" does not name its session (${pattern})`);
  return Number(match[1]);
}

const targets: LockTarget[] = [
  {
    name: 'postgresql (127.0.0.1:5432)',
    engine: 'postgresql',
    namespace: postgresNamespace,
    modes: [{ lockMode: 'session', kind: 'session' }, { lockMode: 'lock-table', kind: 'lease' }],
    killHolder: async (observer: DatabaseAdapter, holder: LockHolder) => {
      const rows = await observer.query<{ ok: boolean }>('SELECT pg_terminate_backend(?) AS ok', [sessionNumber(holder, /\bbackend pid (\d+)/)]);
      if (!rows[0]?.ok) throw new Error(`could not terminate the backend of ${holder.description}`);
    },
  },
  { name: 'pglite (embedded, on disk)', engine: 'pglite', namespace: pgliteNamespace, modes: [{ lockMode: 'session', kind: 'in-process' }] },
  {
    name: 'mariadb (127.0.0.1:3306)',
    engine: 'mariadb',
    namespace: mariadbNamespace,
    modes: [{ lockMode: 'session', kind: 'session' }],
    killHolder: async (observer: DatabaseAdapter, holder: LockHolder) => {
      await observer.execute(`KILL CONNECTION ${sessionNumber(holder, /\bconnection (\d+)/)}`);
    },
  },
  { name: 'redis (127.0.0.1:6379, a key prefix)', engine: 'redis', namespace: redisNamespace, modes: [{ lockMode: 'session', kind: 'lease' }] },
  {
    name: 'mongodb (MONGODB_URL)',
    engine: 'mongodb',
    ...(mongodbUrl ? {} : { skip: 'MONGODB_URL not set: no MongoDB server here (set it to a mongodb:// URL to run this suite)' }),
    namespace: () => mongodbNamespace(mongodbUrl!),
    modes: [{ lockMode: 'session', kind: 'lease' }],
  },
];

everyEngineWithPartHasATarget('migrations', targets);
for (const target of targets) lockConformanceSuite(target);
