// A separate process that runs one migrate() (used by the concurrency and crash tests). Prints one JSON line.
// argv: DATABASE_URL_OR_JSON MIGRATIONS_DIR TABLE [LOCK_TIMEOUT_MS] [LEASE_TTL_MS]
import { DataManager } from '../../src/index.js';

const [target, directory, tableName, lockTimeout, leaseTtl] = process.argv.slice(2);
const config = target!.startsWith('{') ? JSON.parse(target!) : { url: target };
const dm = new DataManager({ config: { databases: [config], logLevel: 'error' } });
try {
  await dm.initialize();
  await dm.initializeMigrations({ directory: directory!, tableName: tableName!, lockTimeout: Number(lockTimeout ?? 60000), ...(leaseTtl ? { leaseTtl: Number(leaseTtl) } : {}) });
  const result = await dm.migrations.migrate({ onProgress: (e) => { if (e.type === 'start') process.stderr.write(`start ${e.version}\n`); } });
  process.stdout.write(`${JSON.stringify({ ok: true, executed: result.migrationsExecuted.map((m) => m.version) })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: (error as { code?: string }).code, reason: (error as { reason?: string }).reason, message: (error as Error).message })}\n`);
  process.exitCode = 1;
} finally {
  await dm.close();
}
