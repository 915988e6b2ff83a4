import type { DatabaseType } from '../config/database-config.js';
import type { EngineDefinition } from './engine-definition.js';

/**
 * Every engine datakeep knows. Adding an engine means adding an entry here and an adapter under engines/<engine>/;
 * the configuration layer, the registry and the CLI pick it up from this table.
 */
export const ENGINES: readonly EngineDefinition[] = [
  {
    type: 'postgresql',
    aliases: ['postgres', 'pg'],
    urlSchemes: ['postgres:', 'postgresql:'],
    defaultPort: 5432,
    defaultDatabase: 'postgres',
    sql: true,
    networked: true,
    optionKeys: [],
    create: async (config, deps) => {
      const { PostgresAdapter } = await import('./postgres/postgres-adapter.js');
      return new PostgresAdapter(config, deps);
    },
  },
  {
    type: 'pglite',
    aliases: ['embedded'],
    urlSchemes: ['pglite:'],
    defaultPort: 0,
    defaultDatabase: 'datakeep',
    sql: true,
    networked: false,
    optionKeys: [],
    create: async (config, deps) => {
      const { PgliteAdapter } = await import('./pglite/pglite-adapter.js');
      return new PgliteAdapter(config, deps);
    },
  },
  {
    type: 'redis',
    aliases: [],
    urlSchemes: ['redis:', 'rediss:'],
    defaultPort: 6379,
    defaultDatabase: '0',
    sql: false,
    networked: true,
    optionKeys: ['sentinels', 'masterName', 'sentinelUsername', 'sentinelPassword'],
    create: async (config, deps) => {
      const { RedisAdapter } = await import('./redis/redis-adapter.js');
      return new RedisAdapter(config, deps);
    },
  },
  {
    type: 'mongodb',
    aliases: ['mongo'],
    urlSchemes: ['mongodb:', 'mongodb+srv:'],
    defaultPort: 27017,
    defaultDatabase: 'test',
    sql: false,
    networked: true,
    optionKeys: ['replicaSet', 'authSource', 'directConnection', 'transactionTimeLimitMs'],
    create: async (config, deps) => {
      const { MongodbAdapter } = await import('./mongodb/mongodb-adapter.js');
      return new MongodbAdapter(config, deps);
    },
  },
  {
    type: 'mariadb',
    aliases: [],
    urlSchemes: ['mariadb:'],
    defaultPort: 3306,
    defaultDatabase: 'test',
    sql: true,
    networked: true,
    optionKeys: [],
    create: async (config, deps) => {
      const { MariadbAdapter } = await import('./mariadb/mariadb-adapter.js');
      return new MariadbAdapter(config, deps);
    },
  },
  {
    type: 'mysql',
    aliases: [],
    urlSchemes: ['mysql:'],
    defaultPort: 3306,
    defaultDatabase: 'test',
    sql: true,
    networked: true,
    optionKeys: [],
    create: async (config, deps) => {
      const { MariadbAdapter } = await import('./mariadb/mariadb-adapter.js');
      return new MariadbAdapter(config, deps);
    },
  },
];

export function findEngineByType(name: string): EngineDefinition | undefined {
  const lower = name.toLowerCase();
  return ENGINES.find((e) => e.type === lower || e.aliases.includes(lower));
}

export function findEngineByScheme(scheme: string): EngineDefinition | undefined {
  return ENGINES.find((e) => e.urlSchemes.includes(scheme.toLowerCase()));
}

export function getEngine(type: DatabaseType): EngineDefinition {
  const engine = ENGINES.find((e) => e.type === type);
  if (!engine) throw new Error(`internal: engine ${type} missing from ENGINES`);
  return engine;
}
