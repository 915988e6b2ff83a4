import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DataManager } from '../../src/index.js';
import { RedisBackupError } from '../../src/engines/redis/backup/index.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { describeData, writeEveryType } from '../support/redis-dataset.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

const PASSPHRASE = `redis backup test ${process.pid}`;

describe('Redis backups over the replication protocol: snapshot, restore into a directory and into a live server', () => {
  let source: ThrowawayRedis;
  let client: Redis;
  let stateDb: TestDatabase;
  let work: string;
  let dm: DataManager;
  let destination: string;
  const started: ThrowawayRedis[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dk-redis-backup-'));
    destination = join(work, 'backups');
    writeFileSync(join(work, 'passphrase'), PASSPHRASE, { mode: 0o600 });
    [source, stateDb] = await Promise.all([ThrowawayRedis.start({ name: 'rbk-source', config: ['repl-diskless-sync-delay 0'] }), createTestDatabase('dk_rbk_state')]);
    client = new Redis({ host: source.host, port: source.port });
    await writeEveryType(client, 'app');
    await client.select(3);
    await writeEveryType(client, 'other');
    await client.select(0);
    dm = new DataManager({ config: { databases: [{ ...source.config, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
  });
  after(async () => {
    client?.disconnect();
    await dm?.close();
    for (const s of [source, ...started]) await s?.stop().catch(() => undefined);
    await stateDb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  const config = () => ({ type: 'full' as const, destination, passphraseFile: join(work, 'passphrase'), compression: true, encryption: true, retention: { daily: 7 } });

  it('stores the RDB with its replication id and offset, restores it into a stopped instance, and verifies', async () => {
    const result = await dm.createBackup(config());
    assert.equal(result.databases.length, 1);
    assert.equal(result.databases[0]!.method, 'replication-protocol');
    const [summary] = await dm.backups.listBackups({ destination, passphraseFile: join(work, 'passphrase') });
    assert.equal(summary!.metadata.engine, 'redis');
    assert.match(String(summary!.metadata.replid), /^[0-9a-f]{40}$/);
    assert.equal(typeof summary!.metadata.offset, 'number');

    const verify = await dm.backups.verifyBackup(result.backupId, { destination, passphraseFile: join(work, 'passphrase') });
    assert.equal(verify.ok, true, JSON.stringify(verify.problems));

    const port = await freePort();
    const to = join(work, 'restored-dir');
    const restored = await dm.restoreBackup(result.backupId, { destination, passphraseFile: join(work, 'passphrase'), to, start: { port } });
    assert.equal(restored.started, true);
    const copy = new Redis({ host: '127.0.0.1', port });
    try {
      assert.deepEqual(await describeData(copy), await describeData(client));
    } finally {
      await copy.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      copy.disconnect();
    }
  });

  it('restores into a live server by DUMP/RESTORE, with a key pattern, and refuses to overwrite existing keys', async () => {
    const target = await ThrowawayRedis.start({ name: 'rbk-target' });
    started.push(target);
    const targetClient = new Redis({ host: target.host, port: target.port });
    try {
      const url = `redis://127.0.0.1:${target.port}`;
      const partial = await dm.restoreBackup(undefined, { destination, passphraseFile: join(work, 'passphrase'), target: { url }, keyPattern: 'app:many:1*' });
      const keys = (await targetClient.keys('*')).sort();
      assert.equal(keys.length, 111, partial.note); // app:many:1, 10-19, 100-199
      assert.ok(keys.every((k) => k.startsWith('app:many:1')));

      await assert.rejects(
        dm.restoreBackup(undefined, { destination, passphraseFile: join(work, 'passphrase'), target: { url } }),
        (error: unknown) => error instanceof RedisBackupError && error.reason === 'unsafe-destination',
      );
      assert.equal(await targetClient.dbsize(), 111, 'a refused restore writes nothing');

      await dm.restoreBackup(undefined, { destination, passphraseFile: join(work, 'passphrase'), target: { url, replace: true } });
      assert.deepEqual(await describeData(targetClient), await describeData(client));
    } finally {
      targetClient.disconnect();
    }
  });

  it('fails with a clear error and leaves no backup when the server is down', async () => {
    const down = await ThrowawayRedis.start({ name: 'rbk-down' });
    const port = down.port;
    const dead = new DataManager({ config: { databases: [{ type: 'redis', host: '127.0.0.1', port, database: '0', id: 'dead' }], state: { url: stateDb.url }, logLevel: 'error' } });
    try {
      await dead.initialize();
      await down.stop();
      await assert.rejects(dead.createBackup({ ...config(), databases: ['dead'] }), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        return true;
      });
      const listed = await dead.backups.listBackups({ destination, passphraseFile: join(work, 'passphrase') });
      assert.equal(listed.filter((b) => b.database === 'dead').length, 0);
    } finally {
      await dead.close();
    }
  });
});

describe('Redis backups of a server with a password and disk-based replication ($<length> payload)', () => {
  it('authenticates (the password never appears in errors) and restores the same data', async () => {
    const password = 's3cret-pass-word';
    const server = await ThrowawayRedis.start({ name: 'rbk-auth', config: [`requirepass ${password}`, 'repl-diskless-sync no'] });
    const stateDb = await createTestDatabase('dk_rbk_auth');
    const work = mkdtempSync(join(tmpdir(), 'dk-redis-auth-'));
    writeFileSync(join(work, 'passphrase'), PASSPHRASE, { mode: 0o600 });
    const client = new Redis({ host: server.host, port: server.port, password });
    const destination = join(work, 'backups');
    const make = (pw: string) => new DataManager({ config: { databases: [{ ...server.config, password: pw, id: 'secured' }], state: { url: stateDb.url }, logLevel: 'error' } });
    const good = make(password);
    try {
      await writeEveryType(client, 'auth');
      await good.initialize();
      const result = await good.createBackup({ type: 'full', destination, passphraseFile: join(work, 'passphrase'), compression: true, encryption: true, retention: { daily: 7 } });
      const to = join(work, 'restored');
      await good.restoreBackup(result.backupId, { destination, passphraseFile: join(work, 'passphrase'), to });
      const port = await freePort();
      // The restored directory holds dump.rdb: a server started on it serves the backed-up data.
      const { startRedisServer } = await import('../../src/engines/redis/backup/scratch-redis-server.js');
      const running = await startRedisServer({ dir: to, port, timeoutMs: 30_000 });
      const copy = new Redis({ host: '127.0.0.1', port });
      try {
        assert.deepEqual(await describeData(copy), await describeData(client));
      } finally {
        copy.disconnect();
        await running.shutdown(false);
      }

      // The adapter stays connected with the old password; the backup's own link must authenticate anew.
      await client.config('SET', 'requirepass', 'rotated-password-456');
      await assert.rejects(good.createBackup({ type: 'full', destination: join(work, 'other'), passphraseFile: join(work, 'passphrase'), compression: true, encryption: true, retention: { daily: 7 } }), (error: unknown) => {
        assert.ok(error instanceof RedisBackupError, String(error));
        assert.equal(error.reason, 'connection-failed');
        assert.match(error.message, /refused the credentials/);
        assert.doesNotMatch(error.message, /s3cret|rotated/);
        return true;
      });
    } finally {
      client.disconnect();
      await good.close();
      await server.stop();
      await stateDb.drop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
