import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
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

  it('a named lease: one holder at a time, the holder named on refusal, released for the next, independent of backups and prune', async () => {
    const path = join(dir.path, 'lease');
    const a = await initRepository(path, { passphrase: PASSPHRASE, workers: 0, ...fast });
    const b = await openRepository(path, { passphrase: PASSPHRASE, workers: 0, ...fast });
    try {
      await assert.rejects(a.lease('no spaces', 'x'), /lease name "no spaces" is invalid/);
      const held = await a.lease('log-capture', 'log capture of cache');
      await assert.rejects(b.lease('log-capture', 'log capture of cache', { timeoutMs: 0 }), (e: unknown) => {
        assert.ok(e instanceof RepositoryError);
        assert.equal(e.reason, 'lock-timeout');
        assert.deepEqual({ pid: e.holder?.pid, host: e.holder?.host, purpose: e.holder?.purpose }, { pid: process.pid, host: hostname(), purpose: 'log capture of cache' });
        return true;
      });
      // Another lease name, a backup and a prune are not held back by it.
      const other = await b.lease('mariadb-binlog', 'archive', { timeoutMs: 0 });
      const shared = await b.lock('shared', 'backup', { timeoutMs: 200 });
      await shared.release();
      assert.equal((await b.prune({ timeoutMs: 200 })).chunksRemoved, 0);
      const waiting = b.lease('log-capture', 'log capture of cache', { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await held.release();
      const next = await waiting;
      assert.equal(next.lost.aborted, false);
      await next.release();
      await other.release();
      assert.deepEqual(readdirSync(join(path, 'locks')), []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a lease of a dead process, or with an old heartbeat elsewhere, is taken over; a holder whose lease was taken over learns it and leaves the new one alone', async () => {
    const path = join(dir.path, 'lease-stale');
    const repository = await initRepository(path, { passphrase: PASSPHRASE, workers: 0, ...fast });
    try {
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
      const now = new Date().toISOString();
      mkdirSync(join(path, 'locks'), { recursive: true });
      const file = join(path, 'locks', 'lease-log-capture');
      writeFileSync(file, JSON.stringify({ mode: 'lease', pid: Number(dead.stdout.toString()), host: hostname(), purpose: 'log capture of cache', acquiredAt: now, heartbeatAt: now }));
      await (await repository.lease('log-capture', 'log capture of cache', { timeoutMs: 0 })).release();
      writeFileSync(file, JSON.stringify({ mode: 'lease', pid: 1, host: 'another-host', purpose: 'log capture of cache', acquiredAt: now, heartbeatAt: new Date(Date.now() - 2000).toISOString() }));
      await assert.rejects(repository.lease('log-capture', 'log capture of cache', { timeoutMs: 0 }), /held by pid 1 on another-host/);
      const taken = await repository.lease('log-capture', 'log capture of cache', { timeoutMs: 0, staleAfterMs: 1000 });
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);

      // Another process judged this holder stale and took the lease: within a heartbeat (a third of 1 s) `lost` aborts.
      const theirs = JSON.stringify({ mode: 'lease', pid: 1, host: 'another-host', purpose: 'log capture of cache', acquiredAt: now, heartbeatAt: new Date().toISOString() });
      writeFileSync(file, theirs);
      await new Promise<void>((resolve, reject) => {
        const limit = setTimeout(() => reject(new Error('lost did not abort within 2 s')), 2000);
        taken.lost.addEventListener('abort', () => {
          clearTimeout(limit);
          resolve();
        });
      });
      assert.match(String((taken.lost.reason as Error).message), /taken over by another process/);
      await taken.release();
      assert.equal(readFileSync(file, 'utf8'), theirs, 'the new holder\'s lease is left alone');
    } finally {
      await repository.close();
    }
  });
});
