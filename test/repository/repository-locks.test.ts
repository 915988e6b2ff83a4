import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RepositoryError } from '../../src/errors/index.js';
import { initRepository, openRepository } from '../../src/repository/index.js';
import { PASSPHRASE, tempDir } from './helpers.js';

const fast = { lockTimings: { pollMs: 20 } };

describe('repository locks', () => {
  const dir = tempDir('dk-repo-locks-');
  after(() => dir.remove());

  it('shared locks coexist; exclusive waits for them and times out naming the holder; shared waits for exclusive', async () => {
    const path = join(dir.path, 'r');
    const a = await initRepository(path, { passphrase: PASSPHRASE, workers: 0, ...fast });
    const b = await openRepository(path, { passphrase: PASSPHRASE, workers: 0, ...fast });
    try {
      const s1 = await a.lock('shared', 'backup one');
      const s2 = await b.lock('shared', 'backup two');
      await assert.rejects(b.lock('exclusive', 'prune', { timeoutMs: 200 }), (e: unknown) => {
        assert.ok(e instanceof RepositoryError);
        assert.equal(e.reason, 'lock-timeout');
        assert.match(e.message, new RegExp(`shared lock is held by pid ${process.pid} on ${hostname()} for "backup (one|two)"`));
        return true;
      });
      assert.equal(readdirSync(join(path, 'locks')).filter((n) => n === 'exclusive').length, 0, 'a timed-out exclusive taker leaves no lock');
      await s1.release();
      const waiting = b.lock('exclusive', 'prune', { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await s2.release();
      const exclusive = await waiting;
      await assert.rejects(a.lock('shared', 'backup three', { timeoutMs: 200 }), /exclusive lock is held by pid \d+ .* for "prune"/);
      await assert.rejects(a.prune({ timeoutMs: 200 }), (e: unknown) => e instanceof RepositoryError && e.reason === 'lock-timeout');
      // The holder itself may prune under the lock it has.
      assert.equal((await b.prune()).chunksRemoved, 0);
      await exclusive.release();
      const s3 = await a.lock('shared', 'backup three', { timeoutMs: 1000 });
      await s3.release();
      assert.deepEqual(readdirSync(join(path, 'locks')), []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('locks of a dead process on this host, and locks whose heartbeat is too old, are taken over', async () => {
    const path = join(dir.path, 'stale');
    const repository = await initRepository(path, { passphrase: PASSPHRASE, workers: 0, lockTimings: { pollMs: 20, staleAfterMs: 60_000 } });
    try {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
      const deadPid = Number(dead.stdout.toString());
      const now = new Date().toISOString();
      mkdirSync(join(path, 'locks'), { recursive: true });
      writeFileSync(join(path, 'locks', 'exclusive'), JSON.stringify({ mode: 'exclusive', pid: deadPid, host: hostname(), purpose: 'prune', acquiredAt: now, heartbeatAt: now }));
      writeFileSync(join(path, 'locks', 'shared-elsewhere-1-aaaaaaaaaaaa'), JSON.stringify({ mode: 'shared', pid: 1, host: 'another-host', purpose: 'backup', acquiredAt: '2020-01-01T00:00:00.000Z', heartbeatAt: '2020-01-01T00:00:00.000Z' }));
      const shared = await repository.lock('shared', 'backup', { timeoutMs: 1000 });
      await shared.release();
      const exclusive = await repository.lock('exclusive', 'prune', { timeoutMs: 1000 });
      await exclusive.release();
      assert.deepEqual(readdirSync(join(path, 'locks')), []);

      // A live lock on another host with a fresh heartbeat is respected.
      writeFileSync(join(path, 'locks', 'shared-elsewhere-2-bbbbbbbbbbbb'), JSON.stringify({ mode: 'shared', pid: 1, host: 'another-host', purpose: 'backup elsewhere', acquiredAt: now, heartbeatAt: new Date().toISOString() }));
      await assert.rejects(repository.lock('exclusive', 'prune', { timeoutMs: 200 }), /held by pid 1 on another-host for "backup elsewhere"/);
    } finally {
      await repository.close();
    }
  });
});
