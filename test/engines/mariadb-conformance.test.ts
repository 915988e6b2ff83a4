import { adapterConformanceSuite } from '../support/adapter-conformance.js';
import { createMariadbTestDatabase } from '../support/mariadb-server.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { MariadbAdapter } from '../../src/engines/mariadb/mariadb-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

adapterConformanceSuite({
  name: 'mariadb (127.0.0.1:3306)',
  async create() {
    const db = await createMariadbTestDatabase();
    const adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, poolSize: 4 }, 'test'), { logger: silentLogger });
    return { adapter, teardown: () => db.drop() };
  },
});
