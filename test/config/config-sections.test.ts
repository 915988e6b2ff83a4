import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { logCaptureSetting, resolveBackupConfig } from '../../src/backup/backup-config.js';
import { MAX_WORKERS } from '../../src/config/worker-limit.js';
import { loadConfig, resolveConfigObject } from '../../src/config/load-config.js';
import { resolveDatabaseConfig, resolveDatabaseConfigs } from '../../src/config/resolve-database-config.js';
import { checkRedisConfig } from '../../src/engines/redis/redis-client-options.js';
import { ConfigurationError, RepositoryError, UsageError } from '../../src/errors/index.js';
import { MigrationManager } from '../../src/migrations/migration-manager.js';
import { initRepository } from '../../src/repository/open-repository.js';
import { JobScheduler } from '../../src/scheduler/job-scheduler.js';
import { TransactionManager } from '../../src/transactions/transaction-manager.js';
import type { DatakeepContext } from '../../src/datakeep-context.js';
import { silentLogger } from '../../src/util/logger.js';

function configError(fn: () => unknown, field: string, message?: RegExp): ConfigurationError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigurationError, `expected a ConfigurationError, got ${String(error)}`);
    assert.equal(error.field, field, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected a ConfigurationError naming ${field}`);
}

const noContext = (): DatakeepContext => {
  throw new Error('the context is not needed for this check');
};

describe('schedules and time zones', () => {
  it('refuses a cron expression that never fires, naming the field', () => {
    configError(() => resolveBackupConfig({ destination: '/b', schedule: '0 0 31 2 *' }, 'setupBackups(config)'), 'setupBackups(config).schedule', /never fires/);
    configError(() => resolveBackupConfig({ destination: '/b', schedule: '0 0 30 2 *' }), 'backupConfig.schedule', /never fires/);
    // February 29th does come, every four years.
    assert.equal(resolveBackupConfig({ destination: '/b', schedule: '0 0 29 2 *' }).schedule, '0 0 29 2 *');
  });

  it('the scheduler refuses it too, and a bad time zone under its own name', async () => {
    const scheduler = new JobScheduler(() => Promise.reject(new Error('no state store needed')), silentLogger);
    const def = { name: 'j', kind: 'test', config: {}, run: async () => ({}) };
    await assert.rejects(scheduler.schedule({ ...def, cron: '0 0 31 2 *' }), (e: unknown) => e instanceof ConfigurationError && e.field === 'schedule' && /never fires/.test(e.message));
    await assert.rejects(scheduler.schedule({ ...def, cron: '0 2 * * *', timeZone: 'Mars/Olympus' }), (e: unknown) => e instanceof ConfigurationError && e.field === 'timeZone' && /IANA/.test(e.message));
    await scheduler.stop();
  });

  it("reports a bad top-level timeZone under its own path, not the retention's", () => {
    configError(() => resolveBackupConfig({ destination: '/b', timeZone: 'Mars/Olympus' }, 'backups'), 'backups.timeZone', /"Mars\/Olympus" is not an IANA time zone/);
    configError(() => resolveBackupConfig({ destination: '/b', retention: { daily: 1, timeZone: 'Mars/Olympus' } }, 'backups'), 'backups.retention.timeZone', /IANA/);
  });

  it('the retention calendar follows the section time zone unless it names its own; the default policy is the library one', () => {
    const c = resolveBackupConfig({ destination: '/b', timeZone: 'Europe/Berlin' });
    assert.deepEqual({ ...c.retention }, { daily: 7, weekly: 0, monthly: 0, yearly: 0, timeZone: 'Europe/Berlin', recoveryWindow: 24 * 3_600_000 });
    assert.equal(resolveBackupConfig({ destination: '/b', timeZone: 'Europe/Berlin', retention: { weekly: 2, timeZone: 'UTC' } }).retention.timeZone, 'UTC');
    assert.equal(c.walTimeoutMs, 120_000);
    assert.equal(c.missedRunPolicy, 'run-once');
  });
});

describe('one limit for workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-workers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('backups.logCapture: on by default, false, or {intervalSeconds} from 1 to 3600; anything else names the field', () => {
    assert.deepEqual(resolveBackupConfig({ destination: '/b' }, 'backups').logCapture, { enabled: true, intervalMs: undefined });
    assert.deepEqual(resolveBackupConfig({ destination: '/b', logCapture: false }, 'backups').logCapture, { enabled: false, intervalMs: undefined });
    assert.deepEqual(resolveBackupConfig({ destination: '/b', logCapture: { intervalSeconds: 5 } }, 'backups').logCapture, { enabled: true, intervalMs: 5000 });
    assert.deepEqual(logCaptureSetting({ logCapture: { enabled: false, intervalSeconds: 2 } }), { enabled: false, intervalMs: 2000 });
    configError(() => resolveBackupConfig({ destination: '/b', logCapture: { intervalSeconds: 0 } }, 'backups'), 'backups.logCapture.intervalSeconds', /between 1 and 3600/);
    configError(() => resolveBackupConfig({ destination: '/b', logCapture: 'yes' }, 'backups'), 'backups.logCapture', /true, false or \{intervalSeconds\}/);
    configError(() => resolveBackupConfig({ destination: '/b', logCapture: { interval: 5 } }, 'backups'), 'backups.logCapture.interval', /intervalSeconds/);
  });

  it(`the backups schema allows 1 to ${MAX_WORKERS}`, () => {
    assert.equal(resolveBackupConfig({ destination: '/b', workers: MAX_WORKERS }).workers, MAX_WORKERS);
    configError(() => resolveBackupConfig({ destination: '/b', workers: MAX_WORKERS + 1 }, 'backups'), 'backups.workers', new RegExp(`between 1 and ${MAX_WORKERS}`));
    configError(() => resolveBackupConfig({ destination: '/b', workers: 0 }, 'backups'), 'backups.workers');
  });

  it('the repository refuses above the same limit, before touching anything', async () => {
    await assert.rejects(initRepository(join(dir, 'r'), { passphrase: 'p', workers: MAX_WORKERS + 1 }), (e: unknown) => e instanceof RepositoryError && new RegExp(`to ${MAX_WORKERS}`).test(e.message));
  });

  it('workers: 100 in the file is a configuration error at load, not a repository error later', () => {
    configError(() => resolveConfigObject({ backups: { destination: '/b', workers: 100 } }, 'test'), 'backups.workers');
  });
});

describe('migrations and transactions sections', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-migrations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('initializeMigrations checks its argument with the same schema as the file section', async () => {
    const m = new MigrationManager(noContext);
    await assert.rejects(m.initialize({} as never), (e: unknown) => e instanceof ConfigurationError && e.field === 'migrations.directory' && /is missing/.test(e.message));
    await assert.rejects(m.initialize({ directory: join(dir, 'nope') }), (e: unknown) => e instanceof ConfigurationError && e.field === 'migrations.directory' && /is not a directory/.test(e.message));
    await assert.rejects(m.initialize({ directory: dir, tableName: 'a b' }), (e: unknown) => e instanceof ConfigurationError && e.field === 'migrations.tableName');
    await assert.rejects(m.initialize({ directory: dir, lockTimout: 5 } as never), (e: unknown) => e instanceof ConfigurationError && e.field === 'migrations.lockTimout' && /Did you mean "lockTimeout"/.test(e.message));
    await m.initialize({ directory: dir });
    assert.deepEqual({ ...m.config }, { directory: dir, tableName: 'datakeep_migrations', validateChecksums: true, allowOutOfOrder: false, lockTimeout: 60_000, lockMode: 'session', leaseTtl: 30_000 });
    configError(() => resolveConfigObject({ migrations: { tableName: 'a b' } }, 'test'), 'migrations.tableName');
  });

  it('transactions.configure() names the option, with the same wording as the file', () => {
    const tx = new TransactionManager(() => ({ config: { transactions: undefined } }) as unknown as DatakeepContext);
    assert.throws(() => tx.configure({ recoveryInterval: -1 }), (e: unknown) => e instanceof UsageError && e.argument === 'options.recoveryInterval' && /out of range/.test(e.message));
    assert.throws(() => tx.configure({ recoverInterval: 5 } as never), (e: unknown) => e instanceof UsageError && e.argument === 'options.recoverInterval' && /Did you mean "recoveryInterval"/.test(e.message));
    assert.throws(() => tx.configure({ nodeId: 'has space' }), (e: unknown) => e instanceof UsageError && e.argument === 'options.nodeId');
    tx.configure({ nodeId: 'node-1', recoveryInterval: 0 });
  });

  it('keeps the sections as written, typed and frozen', () => {
    const c = resolveConfigObject({ backups: { destination: './b', workers: 2 }, migrations: { directory: './m' } }, 'test');
    assert.deepEqual(c.backups, { destination: './b', workers: 2 });
    assert.equal(c.migrations?.directory, './m');
    assert.ok(Object.isFrozen(c.backups));
  });
});

describe('the database entries', () => {
  it('a swap of two letters still gets a suggestion', () => {
    configError(() => resolveDatabaseConfig({ type: 'postgresql', host: 'h', prot: 5432 }, 'databases[0]'), 'databases[0].prot', /Did you mean "port"/);
  });

  it("engine rules run when the configuration is loaded, named by position; an adapter's option builder names the id", () => {
    const input = { type: 'redis', host: 'h', id: 'cache', options: { masterName: 'm' } };
    configError(() => resolveDatabaseConfigs([input], 'databases'), 'databases[0].options.sentinels');
    const resolved = resolveDatabaseConfig(input, 'databases[0]');
    configError(() => checkRedisConfig(resolved), 'databases (cache).options.sentinels');
  });

  it('the settings of a valid Sentinel configuration come from the schema', () => {
    const resolved = resolveDatabaseConfigs([{ type: 'redis', host: 'h', options: { sentinels: [{ host: 's1', port: 26379 }], masterName: 'm', sentinelPassword: 'sentinel-secret' } }], 'databases')[0]!;
    assert.deepEqual(checkRedisConfig(resolved), { sentinels: [{ host: 's1', port: 26379 }], masterName: 'm', sentinelUsername: undefined, sentinelPassword: 'sentinel-secret' });
    assert.ok(!JSON.stringify(resolved).includes('sentinel-secret'));
  });

  it('a bad DATAKEEP_STATE_URL is named as the variable', () => {
    configError(() => loadConfig({ env: { DATAKEEP_STATE_URL: 'redis://x' }, cwd: tmpdir() }), 'DATAKEEP_STATE_URL', /PostgreSQL URL/);
  });
});

describe('docs/configuration.md', () => {
  it('shows error messages the code really gives', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const redis = { type: 'redis', host: 'h' };
    const cases: [() => unknown, string][] = [
      [() => resolveConfigObject({ databases: [{ type: 'postgresql', host: 'h', port: 70000 }] }, 'test'), 'databases[0].port'],
      [() => resolveConfigObject({ backups: { retention: { daily: -1 } } }, 'test'), 'backups.retention.daily'],
      [() => resolveConfigObject({ databases: [{ ...redis, id: 'a' }, { ...redis, id: 'b', options: { sentinals: [] } }] }, 'test'), 'databases[1].options.sentinals'],
    ];
    for (const [fn, field] of cases) {
      const error = configError(fn, field);
      assert.ok(doc.includes(`\`${error.message}\``), `docs/configuration.md should quote: ${error.message}`);
    }
  });
});
