import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DataManager } from '../../src/index.js';
import { captureRedisStream, RedisBackupError } from '../../src/engines/redis/backup/index.js';
import { startRedisServer } from '../../src/engines/redis/backup/scratch-redis-server.js';
import { StreamLog } from '../../src/engines/redis/backup/stream-log.js';
import { parseSegmentName } from '../../src/engines/redis/backup/stream-segment.js';
import { openRepository, type Repository } from '../../src/repository/index.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

const PASSPHRASE = `redis pitr test ${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis point-in-time restores from the captured replication stream', () => {
  let source: ThrowawayRedis;
  let client: Redis;
  let stateDb: TestDatabase;
  let work: string;
  let dm: DataManager;
  let destination: string;
  let passphraseFile: string;
  let repository: Repository;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dk-redis-pitr-'));
    destination = join(work, 'backups');
    passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, PASSPHRASE, { mode: 0o600 });
    // A small backlog, so that a capture lost long enough cannot be continued (the gap test).
    [source, stateDb] = await Promise.all([ThrowawayRedis.start({ name: 'rpitr', config: ['repl-diskless-sync-delay 0', 'repl-backlog-size 16kb'] }), createTestDatabase('dk_rpitr_state')]);
    client = new Redis({ host: source.host, port: source.port });
    await client.set('base', 'in the snapshot');
    dm = new DataManager({ config: { databases: [{ ...source.config, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
    await dm.createBackup({ type: 'full', destination, passphraseFile, compression: true, encryption: true, retention: { daily: 7 } });
    repository = await openRepository(join(destination, 'cache'), { passphrase: PASSPHRASE, workers: 1 });
  });
  after(async () => {
    client?.disconnect();
    await repository?.close?.();
    await dm?.close();
    await source?.stop();
    await stateDb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  const endpoint = () => ({ host: source.host, port: source.port, timeoutMs: 10_000 });
  /** Restores into a directory, starts it, and returns what `read` finds there. */
  async function restoredValues(options: { targetTime?: Date; backupId?: string }, keys: string[]): Promise<(string | null)[]> {
    const to = join(work, `restore-${Date.now()}`);
    await dm.restoreBackup(options.backupId, { destination, passphraseFile, to, targetTime: options.targetTime });
    const port = await freePort();
    const server = await startRedisServer({ dir: to, port, timeoutMs: 30_000 });
    const copy = new Redis({ host: '127.0.0.1', port });
    try {
      return await Promise.all(keys.map((k) => copy.get(k)));
    } finally {
      copy.disconnect();
      await server.shutdown(false);
    }
  }

  it('restores to a second between two writes: exactly the earlier writes are present', async () => {
    const controller = new AbortController();
    const segments: string[] = [];
    const capture = captureRedisStream({ endpoint: endpoint(), repository, database: 'cache', signal: controller.signal, segmentMs: 200, onSegment: (n) => segments.push(n) });
    await waitForReplica(client);
    await client.set('w1', 'first');
    await client.multi().set('w1tx', 'a').incr('w1counter').exec();
    // The target: a whole second at least 300 ms after the first writes, and the second write after it.
    const target = new Date(Math.ceil((Date.now() + 300) / 1000) * 1000);
    while (Date.now() < target.getTime() + 300) await sleep(50);
    await client.set('w2', 'second');
    await client.del('base');
    await sleep(600);
    controller.abort();
    const result = await capture;
    assert.equal(result.resynced, false, 'the capture continued from the backup: no new snapshot');
    assert.ok(result.segments >= 2, `segments ${result.segments}`);

    assert.deepEqual(await restoredValues({ targetTime: target }, ['base', 'w1', 'w1tx', 'w1counter', 'w2']), ['in the snapshot', 'first', 'a', '1', null]);
    assert.deepEqual(await restoredValues({}, ['base', 'w1', 'w2']), [null, 'first', 'second']);

    const [window] = await dm.backups.window('cache', { destination, passphraseFile });
    assert.ok(window!.to && Date.parse(window!.to.time!) >= target.getTime(), JSON.stringify(window));
    assert.equal(window!.firstMissingWal, undefined);

    await assert.rejects(
      dm.restoreBackup(undefined, { destination, passphraseFile, to: join(work, 'future'), targetTime: new Date(Date.now() + 3_600_000) }),
      (error: unknown) => error instanceof RedisBackupError && error.reason === 'target-unreachable',
    );
  });

  it('a capture killed and resumed within the backlog continues without a hole', async () => {
    await waitForReplicas(client, 0);
    const first = captureRedisStream({ endpoint: endpoint(), repository, database: 'cache', segmentMs: 200 }).then(() => undefined, (error: unknown) => error);
    await waitForReplica(client);
    await client.set('k1', 'before kill');
    await sleep(400);
    await client.call('CLIENT', 'KILL', 'TYPE', 'replica');
    const lost = await first;
    assert.ok(lost instanceof RedisBackupError && lost.reason === 'connection-failed', String(lost));
    await waitForReplicas(client, 0);
    await client.set('k2', 'while no capture ran');
    const controller = new AbortController();
    const second = captureRedisStream({ endpoint: endpoint(), repository, database: 'cache', signal: controller.signal, segmentMs: 200 });
    await waitForReplica(client);
    await client.set('k3', 'after resume');
    await sleep(500);
    controller.abort();
    const result = await second;
    assert.equal(result.resynced, false);
    const backups = await dm.backups.listBackups({ destination, passphraseFile });
    const verify = await dm.backups.verifyBackup(backups[0]!.backupId, { destination, passphraseFile });
    assert.equal(verify.ok, true, JSON.stringify(verify.problems));
    assert.deepEqual(await restoredValues({}, ['k1', 'k2', 'k3']), ['before kill', 'while no capture ran', 'after resume']);
  });

  it('a capture lost longer than the backlog leaves a hole that verify, window and restore report', async () => {
    await waitForReplicas(client, 0);
    const first = captureRedisStream({ endpoint: endpoint(), repository, database: 'cache', segmentMs: 200 }).then(() => undefined, (error: unknown) => error);
    await waitForReplica(client);
    await client.set('g1', 'captured');
    await sleep(400);
    const lostAt = new Date();
    await client.call('CLIENT', 'KILL', 'TYPE', 'replica');
    const lost = await first;
    assert.ok(lost instanceof RedisBackupError && lost.reason === 'connection-failed', String(lost));
    await waitForReplicas(client, 0);
    await sleep(300);
    // More than the 16 kB backlog: the master cannot continue from where the capture stopped.
    for (let i = 0; i < 50; i += 1) await client.set(`filler:${i}`, 'x'.repeat(1000));
    const inTheHole = new Date();
    await sleep(300);
    const controller = new AbortController();
    let capturedTo = 0;
    const second = captureRedisStream({ endpoint: endpoint(), repository, database: 'cache', signal: controller.signal, segmentMs: 200, onSegment: (name) => {
      capturedTo = Math.max(capturedTo, parseSegmentName(name)!.end);
    } });
    await waitForReplica(client);
    await client.set('g2', 'after the resync');
    // Until the capture has stored the master's stream up to (at least) that write.
    const masterOffset = Number(/master_repl_offset:(\d+)/.exec(await client.info('replication'))![1]);
    const deadline = Date.now() + 20_000;
    while (capturedTo < masterOffset) {
      if (Date.now() > deadline) throw new Error(`the capture stored the stream up to ${capturedTo}, not ${masterOffset}, within 20 s`);
      await sleep(50);
    }
    controller.abort();
    const result = await second;
    assert.equal(result.resynced, true, 'the master sent a new snapshot');
    assert.ok(result.backupId, 'stored as a full backup');

    const backups = await dm.backups.listBackups({ destination, passphraseFile });
    const verify = await dm.backups.verifyBackup(backups[0]!.backupId, { destination, passphraseFile });
    const segments = (await StreamLog.load(repository)).segments.map((x) => `${x.start}-${x.end}`).join(' ');
    assert.equal(verify.ok, false, `segments ${segments}; backups ${backups.map((b) => `${String(b.metadata.offset)}@${String(b.metadata.consistentAt)}`).join(' ')}`);
    assert.equal(verify.problems[0]!.kind, 'missing-wal');
    const [window] = await dm.backups.window('cache', { destination, passphraseFile });
    assert.match(String(window!.firstMissingWal), /^[0-9a-f]{40}:\d+$/);

    assert.ok(inTheHole > lostAt);
    await assert.rejects(
      dm.restoreBackup(undefined, { destination, passphraseFile, to: join(work, 'hole'), targetTime: inTheHole }),
      (error: unknown) => error instanceof RedisBackupError && error.reason === 'target-unreachable' && /hole/.test(error.message),
    );
    // After the new snapshot, restores work again.
    assert.deepEqual(await restoredValues({}, ['g1', 'filler:49', 'g2']), ['captured', 'x'.repeat(1000), 'after the resync']);
  });
});

/** Waits (bounded) until the master lists an online replica: the capture's link is up. */
async function waitForReplica(client: Redis): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!/connected_slaves:1\r?\n.*slave0:.*state=online/s.test(await client.info('replication'))) {
    if (Date.now() > deadline) throw new Error('the capture did not come online within 20 s');
    await sleep(50);
  }
}

/** Waits (bounded) until the master counts `count` replicas (a closed link is gone from its list). */
async function waitForReplicas(client: Redis, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!new RegExp(`connected_slaves:${count}\\b`).test(await client.info('replication'))) {
    if (Date.now() > deadline) throw new Error(`the master did not count ${count} replicas within 20 s`);
    await sleep(50);
  }
}
