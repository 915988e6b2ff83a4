import { adapterConformanceSuite } from '../support/adapter-conformance.js';
import { createTestDatabase } from '../support/postgres-server.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { PostgresAdapter } from '../../src/engines/postgres/postgres-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

adapterConformanceSuite({
  name: 'postgresql (127.0.0.1:5432)',
  async create() {
    const db = await createTestDatabase();
    const adapter = new PostgresAdapter(resolveDatabaseConfig(db.config, 'test'), { logger: silentLogger });
    return { adapter, teardown: () => db.drop() };
  },
});
