import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterConformanceSuite } from '../support/adapter-conformance.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { PgliteAdapter } from '../../src/engines/pglite/pglite-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

adapterConformanceSuite({
  name: 'pglite (embedded, on disk)',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'dk-pglite-'));
    const adapter = new PgliteAdapter(resolveDatabaseConfig({ type: 'pglite', dataDir: join(dir, 'data') }, 'test'), { logger: silentLogger });
    return { adapter, teardown: async () => rmSync(dir, { recursive: true, force: true }) };
  },
});
