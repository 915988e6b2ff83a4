import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/cli-io.js';
import { ConfigurationError, DataManager, UsageError } from '../../src/index.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

const pg = { type: 'postgresql', host: '127.0.0.1', database: 'app' };
const redis = { type: 'redis', host: '127.0.0.1' };
const mongo = { type: 'mongodb', host: '127.0.0.1', username: 'app', password: 'pw-never-shown' };
const sentinels = [{ host: '127.0.0.1', port: 26379 }];
const backups = { destination: './backups' };

/** [what is wrong, the configuration, the field both must name]. Every one is refused before any connection. */
const BAD: [string, Record<string, unknown>, string][] = [
  ['an unknown top-level key', { database: [pg] }, 'database'],
  ['databases not an array', { databases: pg }, 'databases'],
  ['a port out of range', { databases: [{ ...pg, port: 70000 }] }, 'databases[0].port'],
  ['a port as a string', { databases: [{ ...pg, port: '5432' }] }, 'databases[0].port'],
  ['a misspelt database field', { databases: [{ ...pg, pool_size: 3 }] }, 'databases[0].pool_size'],
  ['an unsupported type', { databases: [{ type: 'oracle', host: 'h' }] }, 'databases[0].type'],
  ['dataDir on a server database', { databases: [{ ...pg, dataDir: './data' }] }, 'databases[0].dataDir'],
  ['an option PGlite does not have', { databases: [{ type: 'pglite', dataDir: 'memory', options: { replicaSet: 'rs0' } }] }, 'databases[0].options.replicaSet'],
  ['two databases with one id', { databases: [pg, pg] }, 'databases[1].id'],
  ['a Redis db that is not an index', { databases: [{ ...redis, database: 'cache' }] }, 'databases[0].database'],
  ['Redis sentinels without masterName', { databases: [{ ...redis, options: { sentinels } }] }, 'databases[0].options.masterName'],
  ['a Redis sentinel port as a string', { databases: [{ ...redis, options: { sentinels: [{ host: 'h', port: '26379' }], masterName: 'm' } }] }, 'databases[0].options.sentinels[0].port'],
  ['a Redis sentinel password without sentinels', { databases: [{ ...redis, options: { sentinelPassword: 'pw-never-shown' } }] }, 'databases[0].options.sentinelPassword'],
  ['an isolation level on Redis', { databases: [{ ...redis, isolationLevel: 'serializable' }] }, 'databases[0].isolationLevel'],
  ['a Redis client name with spaces', { databases: [{ ...redis, applicationName: 'my app' }] }, 'databases[0].applicationName'],
  ['a misspelt MongoDB option', { databases: [{ ...mongo, options: { replicaset: 'rs0' } }] }, 'databases[0].options.replicaset'],
  ['MongoDB replicaSet with directConnection', { databases: [{ ...mongo, options: { replicaSet: 'rs0', directConnection: true } }] }, 'databases[0].options.directConnection'],
  ['a MongoDB password without username', { databases: [{ ...mongo, username: undefined }] }, 'databases[0].username'],
  ['a MongoDB transaction time limit of 0', { databases: [{ ...mongo, options: { transactionTimeLimitMs: 0 } }] }, 'databases[0].options.transactionTimeLimitMs'],
  ['a log level that does not exist', { logLevel: 'verbose' }, 'logLevel'],
  ['a state store that is not PostgreSQL', { state: { url: 'redis://127.0.0.1' } }, 'state.url'],
  ['state of the wrong type', { state: './state' }, 'state'],
  ['backups.workers: 100', { backups: { ...backups, workers: 100 } }, 'backups.workers'],
  ['a cron that never fires', { backups: { ...backups, schedule: '0 0 31 2 *' } }, 'backups.schedule'],
  ['a cron that does not parse', { backups: { ...backups, schedule: 'every night' } }, 'backups.schedule'],
  ['a bad backups time zone', { backups: { ...backups, timeZone: 'Mars/Olympus', schedule: '0 2 * * *' } }, 'backups.timeZone'],
  ['a bad retention time zone', { backups: { ...backups, retention: { daily: 7, timeZone: 'Europe/Atlantis' } } }, 'backups.retention.timeZone'],
  ['a negative retention count', { backups: { ...backups, retention: { daily: -1 } } }, 'backups.retention.daily'],
  ['a retention that keeps nothing', { backups: { ...backups, retention: { daily: 0 } } }, 'backups.retention'],
  ['a backup type that does not exist', { backups: { ...backups, type: 'weekly' } }, 'backups.type'],
  ['a misspelt backups field', { backups: { ...backups, destnation: './b' } }, 'backups.destnation'],
  ['a migrations lock mode that does not exist', { migrations: { lockMode: 'table' } }, 'migrations.lockMode'],
  ['a migrations table name that is SQL', { migrations: { tableName: 'x; DROP TABLE y' } }, 'migrations.tableName'],
  ['transactions of the wrong type', { transactions: 30000 }, 'transactions'],
  ['a replication mode that does not exist', { databases: [pg], replication: { enabled: true, mode: 'semi-sync', replicas: [{ host: 'r1', port: 5432 }] } }, 'replication.mode'],
  ['a replica port out of range', { databases: [pg], replication: { enabled: true, mode: 'async', replicas: [{ host: 'r1', port: 0 }] } }, 'replication.replicas[0].port'],
  ['two replicas with one name', { databases: [pg], replication: { enabled: true, mode: 'async', replicas: [{ host: 'r1', port: 5432 }, { host: 'r1', port: 5432 }] } }, 'replication.replicas[1].port'],
  ['more sync replicas than replicas', { databases: [pg], replication: { enabled: true, mode: 'sync', syncReplicas: 2, replicas: [{ host: 'r1', port: 5432 }] } }, 'replication.syncReplicas'],
  ['automatic failover without an authority', { databases: [pg], replication: { enabled: true, mode: 'async', automaticFailover: true, replicas: [{ host: 'r1', port: 5432 }] } }, 'replication.automaticFailover'],
  ['an etcd authority without endpoints', { databases: [pg], replication: { enabled: true, mode: 'async', authority: { type: 'etcd', endpoints: [] }, replicas: [{ host: 'r1', port: 5432 }] } }, 'replication.authority.endpoints'],
  ['a failoverTimeout in seconds', { databases: [pg], replication: { enabled: true, mode: 'async', failoverTimeout: 30, replicas: [{ host: 'r1', port: 5432 }] } }, 'replication.failoverTimeout'],
  ['a misspelt replication field', { databases: [pg], replication: { enabled: true, mode: 'async', replica: [] } }, 'replication.replica'],
  ['a server port out of range', { server: { port: 70000 } }, 'server.port'],
  ['a server TLS section without its key', { server: { tls: { cert: './server.crt' } } }, 'server.tls.key'],
  ['a misspelt server field', { server: { hots: '0.0.0.0' } }, 'server.hots'],
  ['a server shutdown timeout in milliseconds', { server: { shutdownTimeout: 30000 } }, 'server.shutdownTimeout'],
];

describe('datakeep config check refuses exactly what initialize() refuses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-config-table-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const write = (config: unknown) => {
    const file = join(dir, `config-${(n += 1)}.json`);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };

  it(`has a table of at least 15 bad configurations (${BAD.length})`, () => assert.ok(BAD.length >= 15));

  for (const [what, config, field] of BAD) {
    it(`${what}: both name ${field}`, async () => {
      const file = write(config);
      const io = capture();
      assert.equal(await runCli(['config', 'check', '--config', file], io), 2, io.stderr.join('\n'));
      const printed = io.stderr.join('\n');
      assert.ok(printed.startsWith(`datakeep: ${field}: `), `config check said: ${printed}`);
      assert.ok(!printed.includes('pw-never-shown'));

      const dm = new DataManager({ configFile: file, logger: { log: () => undefined } });
      try {
        await assert.rejects(dm.initialize(), (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, `initialize threw ${String(error)}`);
          assert.equal(error.field, field);
          assert.equal(`datakeep: ${error.message}`, printed, 'the same error, word for word');
          return true;
        });
      } finally {
        await dm.close();
      }
    });
  }

  it('a good configuration passes both', async () => {
    const file = write({ databases: [{ type: 'pglite', dataDir: 'memory' }], backups: { ...backups, schedule: '0 2 * * *', timeZone: 'Europe/Berlin' }, logLevel: 'error' });
    const io = capture();
    assert.equal(await runCli(['config', 'check', '--config', file], io), 0, io.stderr.join('\n'));
    const dm = new DataManager({ configFile: file });
    try {
      await dm.initialize();
    } finally {
      await dm.close();
    }
  });

  it('the transactions section: config check refuses its values now; initialize() leaves them to its first use', async () => {
    // test/config/transactions-config.test.ts pins that initialize() accepts a bad value here and the transaction
    // manager refuses it when first used; config check does not wait for that.
    const file = write({ databases: [{ type: 'pglite', dataDir: 'memory' }], transactions: { recoveryInterval: -5 }, logLevel: 'error' });
    const io = capture();
    assert.equal(await runCli(['config', 'check', '--config', file], io), 2);
    assert.match(io.stderr.join('\n'), /^datakeep: transactions\.recoveryInterval: -5 is out of range\. Use an integer between 0 and \d+ \(milliseconds\)/);
    const dm = new DataManager({ configFile: file });
    try {
      await dm.initialize();
      await assert.rejects(dm.transactions.nodeId(), (e: unknown) => e instanceof UsageError && e.argument === 'transactions.recoveryInterval');
    } finally {
      await dm.close();
    }
  });
});
