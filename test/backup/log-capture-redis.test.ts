import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DataManager } from '../../src/index.js';
import { startRedisServer } from '../../src/engines/redis/backup/scratch-redis-server.js';
import { freePort } from '../support/free-port.js';
import { CaptureWatch } from '../support/log-capture-watch.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

const PASSPHRASE = `redis log capture test ${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The continuous capture (dm.backups.captures, the engine's captureLog) across a Redis server killed by PID and
 * restarted: the capture restarts on its own, the server cannot continue the old stream (a new replication id), so
 * its new snapshot is stored as a full backup and the stream is captured on from it; a restore to a second after the
 * restart holds exactly the keys written up to that second.
 */
describe('Redis continuous log capture across a server kill and restart', () => {
  let source: ThrowawayRedis;
  let stateDb: TestDatabase;
  let work: string;
  let dm: DataManager;
  let destination: string;
  let passphraseFile: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dk-redis-logcap-'));
    destination = join(work, 'backups');
    passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, PASSPHRASE, { mode: 0o600 });
    [source, stateDb] = await Promise.all([ThrowawayRedis.start({ name: 'rlogcap', config: ['repl-diskless-sync-delay 0'] }), createTestDatabase('dk_rlogcap_state')]);
    dm = new DataManager({ config: { databases: [{ ...source.config, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
  });
  after(async () => {
    await dm?.close();
    await source?.stop();
    await stateDb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Every key of a restore started on a free port, with its value. */
  async function restoredKeys(targetTime: Date | undefined): Promise<Record<string, string | null>> {
    const to = join(work, `restore-${Date.now()}`);
    await dm.restoreBackup(undefined, { destination, passphraseFile, to, targetTime });
    const port = await freePort();
    const server = await startRedisServer({ dir: to, port, timeoutMs: 30_000 });
    const copy = new Redis({ host: '127.0.0.1', port });
    try {
      const keys = (await copy.keys('*')).sort();
      return Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await copy.get(k)] as const)));
    } finally {
      copy.disconnect();
      await server.shutdown(false);
    }
  }

  it('resumes after SIGKILL and restart, and a restore to a second after the restart holds exactly the writes up to it', async () => {
    let client = new Redis({ host: source.host, port: source.port });
    await client.set('before', 'in the first snapshot');
    let target = new Date(0);
    const capture = new CaptureWatch(dm, 'cache', { destination, passphraseFile, intervalMs: 200 });
    try {
      // No backup yet: the capture's first snapshot becomes one; then the stream follows.
      await capture.until((s) => /stored as full backup/.test(s.note ?? ''), 30_000, 'the first snapshot stored');
      await client.set('lost-at-kill', 'written before the kill');
      await capture.caughtUp(10_000, 'the write before the kill captured');
      client.disconnect();

      await source.kill('SIGKILL');
      await capture.until((s) => s.status === 'retrying', 20_000, 'the capture failing once the server is gone');
      await source.restart();
      const restartedAt = Date.now();
      client = new Redis({ host: source.host, port: source.port });
      // The restarted server (no persistence) is empty and has a new replication id: a new snapshot, then the stream.
      // The new snapshot stored: what follows reaches the repository through the stream.
      await capture.until((s) => s.status === 'running' && /could not continue/.test(s.note ?? ''), 30_000, 'the capture resuming with a new snapshot');
      await client.set('a1', 'after restart 1');
      await client.multi().set('a2', 'after restart 2').incr('a3').exec();
      // Commands are stamped when they reach the capture: on a loaded machine that can lag their execution, so the
      // target keeps a second from the writes on either side.
      target = new Date(Math.ceil((Date.now() + 1000) / 1000) * 1000);
      while (Date.now() < target.getTime() + 1000) await sleep(50);
      await client.set('b1', 'after the target');
      await client.del('a1');
      const resumed = await capture.caughtUp(10_000, 'the writes after the target captured');
      assert.ok(Date.parse(resumed.coveredUntil!) > restartedAt);
      assert.ok(resumed.restarts >= 1 && /could not continue/.test(resumed.note ?? ''), JSON.stringify(resumed));
    } finally {
      client.disconnect();
      const final = await capture.stop();
      assert.equal(final.status, 'stopped');
    }
    assert.deepEqual(await restoredKeys(target), { a1: 'after restart 1', a2: 'after restart 2', a3: '1' });
    assert.deepEqual(await restoredKeys(undefined), { a2: 'after restart 2', a3: '1', b1: 'after the target' });
    const backups = await dm.backups.listBackups({ destination, passphraseFile });
    assert.equal(backups.length, 2, 'the first snapshot and the one after the restart');
    const verify = await dm.backups.verifyBackup(backups[1]!.backupId, { destination, passphraseFile });
    assert.equal(verify.ok, true, JSON.stringify(verify.problems));
  });
});
