import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager, RepositoryError, UsageError, type Logger, type LogLevel } from '../../src/index.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import { newGlobalId } from '../../src/transactions/transaction-ids.js';
import { initRepository, openRepository } from '../../src/repository/index.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';
import { migrationDir, sql } from '../support/migration-files.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { REDIS_URL } from '../support/transaction-fixture.js';
import { meta, streamOf, tempDir } from '../repository/helpers.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';

interface Line {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
}

/** A caller's logger (the seam in DataManager options) that keeps every line. */
function recorder(): { logger: Logger; lines: Line[]; find(message: string, match?: Record<string, unknown>): Line } {
  const lines: Line[] = [];
  return {
    logger: { log: (level, message, fields) => lines.push({ level, message, fields: fields ?? {} }) },
    lines,
    find(message, match = {}) {
      const found = lines.find((l) => l.message === message && Object.entries(match).every(([k, v]) => l.fields[k] === v));
      assert.ok(found, `no line "${message}" with ${JSON.stringify(match)} in:\n${lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields)}`).join('\n')}`);
      return found;
    },
  };
}

function assertDuration(line: Line): void {
  assert.equal(typeof line.fields.durationMs, 'number', `${line.message} has durationMs`);
  assert.ok((line.fields.durationMs as number) >= 0);
}

describe('migrations and distributed transactions log their operations with ids and durations', () => {
  const log = recorder();
  let pgDb: TestDatabase;
  let maria: MariadbTestDatabase;
  let dm: DataManager;
  const prefix = `dk-log-${randomBytes(4).toString('hex')}:`;
  const dir = migrationDir({ '20240101000000_create_items.sql': sql('CREATE TABLE items (id int PRIMARY KEY);', 'DROP TABLE items;') });

  before(async () => {
    [pgDb, maria] = await Promise.all([createTestDatabase('dk_log'), createMariadbTestDatabase('dk_log')]);
    dm = new DataManager({
      config: {
        databases: [{ ...pgDb.config, id: 'app', default: true, password: 'postgres' }, { ...maria.config, id: 'maria' }, { url: REDIS_URL, id: 'cache' }],
        state: { url: pgDb.url },
      },
      logger: log.logger,
    });
    await dm.initialize();
    dm.transactions.configure({ nodeId: `l${randomBytes(4).toString('hex')}`, recoveryInterval: 0 });
    await dm.queryDatabase('maria', 'CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB');
  });
  after(async () => {
    await dm?.queryDatabase('cache', ['DEL', `${prefix}one`]).catch(() => undefined);
    await dm?.close();
    await Promise.all([pgDb?.drop(), maria?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate and rollback: per database, per migration (version), and the lock wait', async () => {
    await dm.initializeMigrations({ directory: dir, tableName: 'log_test_migrations' });
    await dm.migrate();
    assertDuration(log.find('migration.lock-wait finished', { database: 'app' }));
    log.find('migration.run started', { database: 'app' });
    const run = log.find('migration.run finished', { database: 'app' });
    assertDuration(run);
    assert.deepEqual(run.fields.executed, ['20240101000000']);
    log.find('migration.apply started', { database: 'app', version: '20240101000000', direction: 'up' });
    assertDuration(log.find('migration.apply finished', { database: 'app', version: '20240101000000', direction: 'up' }));
    await dm.rollback('0');
    assertDuration(log.find('migration.rollback finished', { database: 'app', to: '0' }));
    assertDuration(log.find('migration.apply finished', { database: 'app', version: '20240101000000', direction: 'down' }));
  });

  it('a failing migration is logged at error with its version', async () => {
    const bad = migrationDir({ '20240202000000_broken.sql': sql('CREATE TABLE broken (id int PRIMARY KEY, x nosuchtype);') });
    try {
      await dm.migrations.initialize({ directory: bad, tableName: 'log_test_broken' });
      await assert.rejects(dm.migrate());
      const failed = log.find('migration.apply failed', { version: '20240202000000' });
      assert.equal(failed.level, 'error');
      assertDuration(failed);
      assert.equal(log.find('migration.run failed', { database: 'app' }).level, 'error');
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('a distributed transaction logs begin, decision and commit with its global id; a rollback with its reason', async () => {
    const result = await dm.transactions.distributed(['maria', 'cache'], async (tx) => {
      await tx.on('maria').execute('INSERT INTO t (id) VALUES (?)', [1]);
      tx.on<RedisTransactionContext>('cache').queue(['SET', `${prefix}one`, '1']);
    });
    const begin = log.find('distributed transaction begin', { globalId: result.globalId });
    assert.deepEqual(begin.fields.participants, ['maria', 'cache']);
    log.find('distributed transaction decided', { globalId: result.globalId, decision: 'commit' });
    assertDuration(log.find('distributed transaction committed', { globalId: result.globalId }));

    let globalId = '';
    await assert.rejects(dm.transactions.distributed(['maria', 'cache'], async (tx) => {
      globalId = tx.globalId;
      await tx.on('maria').execute('INSERT INTO t (id) VALUES (?)', [2]);
      throw new Error('the caller changed its mind');
    }));
    const rolledBack = log.find('distributed transaction rolled back', { globalId, outcome: 'aborted' });
    assert.equal(rolledBack.level, 'warn');
    assertDuration(rolledBack);
    log.find('distributed transaction decided', { globalId, decision: 'abort' });
  });

  it('recovery passes log their duration; a resolve logs start and failure with the global id', async () => {
    await dm.transactions.recover();
    assertDuration(log.find('transaction recovery pass', { operation: 'transaction.recovery' }));
    const unknown = newGlobalId();
    await assert.rejects(dm.transactions.resolve(unknown, 'rollback'), UsageError);
    log.find('transaction.resolve started', { globalId: unknown, action: 'rollback' });
    assert.equal(log.find('transaction.resolve failed', { globalId: unknown }).level, 'error');
  });

  it('no line carries the database password', () => {
    const text = JSON.stringify(log.lines);
    assert.doesNotMatch(text, /"password":"postgres"|:postgres@/);
  });
});

describe('a repository logs open, init, completed backups and prunes; silent without a logger', () => {
  const scratch = tempDir('dk-log-repo-');
  after(() => scratch.remove());

  it('logs with the backup id and durations, and a wrong passphrase as a failure that does not show it', async () => {
    const log = recorder();
    const path = join(scratch.path, 'repo');
    const repository = await initRepository(path, { passphrase: 'the passphrase', workers: 0, logger: log.logger });
    const init = log.find('repository.init finished', { repositoryId: repository.config.repositoryId });
    assertDuration(init);
    const writer = await repository.beginBackup({ type: 'full', database: 'app' });
    await writer.addFile('a', streamOf(Buffer.alloc(50_000, 7)), meta(50_000));
    const manifest = await writer.complete();
    const complete = log.find('repository.backup-complete finished', { backupId: manifest.backupId, database: 'app', type: 'full' });
    assertDuration(complete);
    assert.equal(complete.fields.files, 1);
    await repository.deleteBackup(manifest.backupId);
    await repository.prune();
    const prune = log.find('repository.prune finished');
    assertDuration(prune);
    assert.ok((prune.fields.chunksRemoved as number) > 0);
    await repository.close();

    await assert.rejects(openRepository(path, { passphrase: 'wrong', workers: 0, logger: log.logger }), RepositoryError);
    const failed = log.find('repository.open failed');
    assert.equal(failed.level, 'error');
    assert.deepEqual((failed.fields.error as { code: string }).code, 'DK_REPOSITORY');
    assert.ok(!JSON.stringify(failed).includes('"wrong"'));

    const before = log.lines.length;
    const silent = await openRepository(path, { passphrase: 'the passphrase', workers: 0 });
    await silent.close();
    assert.equal(log.lines.length, before, 'no logger given: nothing logged anywhere');
  });
});

describe('backups log create per database, verify, expire, prune and restore with ids and durations', () => {
  const log = recorder();
  let cluster: ThrowawayPostgres;
  let work: string;
  let destination: string;
  let dm: DataManager;
  const previousEnv = process.env.DATAKEEP_REPO_PASSPHRASE_FILE;

  before(async () => {
    const setup = await startBackupCluster('log-backup', 'app');
    ({ cluster, work, destination } = setup);
    process.env.DATAKEEP_REPO_PASSPHRASE_FILE = setup.passphraseFile;
    dm = new DataManager({ config: { databases: [{ ...cluster.config, id: 'app' }], state: { url: cluster.url }, logLevel: 'error' }, logger: log.logger });
    await dm.initialize();
  });
  after(async () => {
    await dm?.close();
    if (previousEnv === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
    else process.env.DATAKEEP_REPO_PASSPHRASE_FILE = previousEnv;
    await cluster?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('create, verify, expire, prune and restore each log start and end', async () => {
    const config = { type: 'full' as const, destination, compression: true, encryption: true, retention: { daily: 7 } };
    const first = await dm.createBackup(config);
    log.find('backup.create started', { database: 'app', type: 'full' });
    const created = log.find('backup.create finished', { database: 'app', backupId: first.backupId });
    assertDuration(created);
    assertDuration(log.find('backup.run finished', { backupId: first.backupId }));
    log.find('repository.init finished');
    log.find('repository.backup-complete finished', { backupId: first.backupId, database: 'app' });
    assertDuration(log.find('backup.expire finished', { database: 'app' }));

    await dm.backups.verifyBackup(first.backupId);
    assertDuration(log.find('backup.verify finished', { backupId: first.backupId, ok: true }));
    const second = await dm.createBackup(config);
    await dm.backups.expireBackups({ retention: { daily: 1, weekly: 0, monthly: 0, yearly: 0 } });
    const expired = log.lines.filter((l) => l.message === 'backup.expire finished').at(-1)!;
    assert.ok(Array.isArray(expired.fields.expired));
    await dm.backups.prune();
    assertDuration(log.find('repository.prune finished'));

    const to = join(work, 'restored');
    await dm.restoreBackup(second.backupId, { to });
    assertDuration(log.find('backup.restore finished', { database: 'app', backupId: second.backupId, to }));
  });

  it('a DataManager that is never initialized (repository-only commands) logs to its logger too', async () => {
    const standalone = recorder();
    const reader = new DataManager({ config: { databases: [{ ...cluster.config, id: 'app' }] }, logger: standalone.logger });
    try {
      const [latest] = (await reader.backups.listBackups({ destination })).slice(-1);
      await reader.backups.verifyBackup(latest!.backupId, { destination });
      assertDuration(standalone.find('backup.verify finished', { backupId: latest!.backupId }));
      standalone.find('repository.open finished');
    } finally {
      await reader.close();
    }
  });
});
