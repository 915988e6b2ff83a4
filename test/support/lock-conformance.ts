import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import type { DatabaseType } from '../../src/config/database-config.js';
import { enginePart } from '../../src/engines/engine-registry.js';
import { LockError } from '../../src/errors/index.js';
import type { ExclusiveLock, LockHolder } from '../../src/locks/exclusive-lock.js';
import type { MigrationLockSettings } from '../../src/migrations/migration-part.js';
import { holdLockInChild } from './lock-holder-process.js';
import { PartFixture, type PartNamespace } from './part-namespace.js';

/** A lease (expires unless renewed), a lock of a server session (dies with it), or a mutex of this process. */
export type LockKind = 'lease' | 'session' | 'in-process';

/**
 * One suite that every engine's migration lock passes (the `lock` of its `migrations` part), reached through
 * `enginePart` as the migration manager reaches it.
 */
export interface LockTarget {
  name: string;
  engine: DatabaseType;
  /** Set when the suite cannot run here (no server): it then reports one skipped test saying why. */
  skip?: string;
  namespace(): Promise<PartNamespace>;
  /** Every lockMode the engine serves, with the kind of lock the part gives for it. */
  modes: readonly { lockMode: MigrationLockSettings['lockMode']; kind: LockKind }[];
  /** Session locks: ends the server session that holds the lock (found from `holder`), as an operator or a network would. */
  killHolder?(observer: DatabaseAdapter, holder: LockHolder): Promise<void>;
}

/** Short, so that expiry is quick to wait for; renewed every third of it. */
const LEASE_TTL = 3000;
/** What the suite waits for beyond a promised time before calling it a failure: generous, the machine is shared. */
const SLACK = 5000;
/** The lock wait a second runner is given where it must fail (whole seconds: GET_LOCK counts in seconds). */
const WAIT = 1000;
/** Session locks notice a dead session by a heartbeat on it (every 5 s). */
const HEARTBEAT = 5000;

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

/** What assertHeld() throws once the lock notices it was lost, polled for up to `withinMs`; undefined if it never does. */
async function lossOf(lock: ExclusiveLock, withinMs: number): Promise<unknown> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    try {
      lock.assertHeld();
    } catch (error) {
      return error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

function assertLockError(error: unknown, reason: 'timeout' | 'lost'): asserts error is LockError {
  assert.ok(error instanceof LockError, `expected a LockError (${reason}), got ${String(error)}`);
  assert.equal(error.reason, reason, error.message);
}

export function lockConformanceSuite(target: LockTarget): void {
  if (target.skip) {
    it(`migration lock conformance: ${target.name}`, { skip: target.skip }, () => {});
    return;
  }
  for (const { lockMode, kind } of target.modes) {
    describe(`migration lock conformance: ${target.name}, lockMode ${lockMode} (${kind})`, { timeout: 120_000 }, () => {
      const f = new PartFixture(target);
      let names = 0;
      const table = () => `${f.namespace.prefix}_l${(names += 1)}`;
      const made: ExclusiveLock[] = [];
      const lockOn = (adapter: DatabaseAdapter, tableName: string): ExclusiveLock => {
        const lock = enginePart(adapter, 'migrations', 'migrations').lock(adapter, { tableName, lockMode, leaseTtl: LEASE_TTL });
        made.push(lock);
        return lock;
      };

      afterEach(async () => {
        // A failed test must not leave its lock to the next one.
        for (const lock of made.splice(0)) await lock.release().catch(() => undefined);
      });

      it(`leased is ${kind === 'lease'}: true exactly for leases`, () => {
        const lock = lockOn(f.a, table());
        assert.equal(lock.leased, kind === 'lease');
        assert.ok(lock.kind.length > 0);
      });

      it('acquires and releases; holder() describes the holder while held and is undefined after release', async () => {
        const name = table();
        const lock = lockOn(f.a, name);
        const observer = lockOn(f.b, name);
        assert.equal(await observer.holder(), undefined, 'free before anyone acquires');
        const t0 = Date.now();
        await lock.acquire(WAIT);
        lock.assertHeld();
        const seen = await observer.holder();
        assert.ok(seen && seen.description.length > 0, 'a holder while held');
        assert.equal((await lock.holder())?.description, seen.description, 'the holder and an observer describe the same holder');
        if (kind === 'lease') assert.match(seen.description, new RegExp(`\\bprocess ${process.pid}\\b`));
        if (seen.since) assert.ok(seen.since.getTime() >= t0 - SLACK && seen.since.getTime() <= Date.now() + SLACK, `since ${seen.since.toISOString()}`);
        await lock.release();
        assert.equal(await observer.holder(), undefined, 'free after release');
      });

      it('a second lock object waits its timeout, fails with LockError("timeout") naming the holder, then gets the lock once released', async () => {
        const name = table();
        const first = lockOn(f.a, name);
        const second = lockOn(f.b, name);
        await first.acquire(WAIT);
        const holder = await first.holder();
        const t0 = Date.now();
        const error = await failureOf(second.acquire(WAIT));
        const waited = Date.now() - t0;
        assertLockError(error, 'timeout');
        assert.ok(error.message.includes(holder!.description), `"${error.message}" names the holder "${holder!.description}"`);
        assert.ok(waited >= WAIT - 50 && waited <= WAIT + SLACK, `gave up after ${waited} ms for a timeout of ${WAIT} ms`);
        first.assertHeld();
        await first.release();
        await second.acquire(WAIT);
        second.assertHeld();
        await second.release();
      });

      it('two lock objects acquiring at once: exactly one gets it, the other times out', async () => {
        const name = table();
        const contenders = [lockOn(f.a, name), lockOn(f.b, name)];
        const results = await Promise.allSettled(contenders.map((l) => l.acquire(WAIT)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [contenders[i]!] : []));
        assert.equal(won.length, 1, `winners: ${won.length}`);
        for (const r of results) if (r.status === 'rejected') assertLockError(r.reason, 'timeout');
        won[0]!.assertHeld();
        await won[0]!.release();
      });

      it('release is idempotent, also on a lock never acquired; a released lock can be taken again', async () => {
        const name = table();
        await lockOn(f.a, name).release();
        const lock = lockOn(f.a, name);
        await lock.acquire(WAIT);
        await lock.release();
        await lock.release();
        assert.equal(await lockOn(f.b, name).holder(), undefined);
        await lock.acquire(WAIT);
        assert.ok(await lockOn(f.b, name).holder());
        await lock.release();
      });

      if (kind === 'lease') {
        it('forceRelease() removes a lease left behind by a holder that vanished; the vanished holder notices the loss', async () => {
          const name = table();
          const gone = await f.adapters.open();
          const left = lockOn(gone, name);
          await left.acquire(WAIT);
          const seen = await lockOn(f.b, name).holder();
          // Dropped without release: the lease stays until it expires.
          await gone.close();
          assert.equal((await lockOn(f.b, name).holder())?.description, seen!.description);
          assertLockError(await failureOf(lockOn(f.b, name).acquire(0)), 'timeout');
          const removed = await lockOn(f.b, name).forceRelease();
          assert.equal(removed?.description, seen!.description, 'forceRelease() says what it removed');
          assert.equal(await lockOn(f.b, name).holder(), undefined);
          assert.equal(await lockOn(f.b, name).forceRelease(), undefined, 'nothing left to remove');
          const next = lockOn(f.b, name);
          await next.acquire(WAIT);
          assertLockError(await lossOf(left, LEASE_TTL + SLACK), 'lost');
          next.assertHeld();
          await next.release();
        });
      } else {
        it('forceRelease() leaves a live holder alone: a session lock cannot be stuck, only ended with its session', async () => {
          const name = table();
          const lock = lockOn(f.a, name);
          await lock.acquire(WAIT);
          const holder = await lock.holder();
          const reported = await lockOn(f.b, name).forceRelease();
          assert.equal(reported?.description, holder!.description);
          lock.assertHeld();
          assert.equal((await lockOn(f.b, name).holder())?.description, holder!.description);
          assertLockError(await failureOf(lockOn(f.b, name).acquire(WAIT)), 'timeout');
          await lock.release();
        });
      }

      if (kind !== 'in-process') {
        const what = kind === 'lease' ? 'its lease stays until the TTL, then another runner takes it' : 'the lock goes with its session';
        it(`a holder process killed with SIGKILL: ${what}`, async () => {
          assert.ok(f.namespace.shared);
          const name = table();
          const child = await holdLockInChild(f.namespace.config, { tableName: name, lockMode, leaseTtl: LEASE_TTL });
          try {
            const seen = await lockOn(f.b, name).holder();
            assert.ok(seen, 'the child holds the lock');
            if (kind === 'lease') assert.match(seen.description, new RegExp(`\\bprocess ${child.pid}\\b`));
            await child.kill();
            const t0 = Date.now();
            if (kind === 'lease') assert.equal((await lockOn(f.b, name).holder())?.description, seen.description, 'the lease outlives its holder');
            const next = lockOn(f.b, name);
            const bound = kind === 'lease' ? LEASE_TTL + SLACK : SLACK;
            await next.acquire(bound);
            const took = Date.now() - t0;
            console.log(`${target.name} ${lockMode}: the lock was free ${took} ms after its holder was killed`);
            assert.ok(took <= bound, `took ${took} ms`);
            next.assertHeld();
            await next.release();
          } finally {
            await child.kill();
          }
        });
      }

      const killHolder = target.killHolder;
      if (kind === 'session' && killHolder) {
        it('a session lock is lost when its session dies: another runner gets it, and assertHeld() throws LockError("lost")', async () => {
          const name = table();
          const lock = lockOn(f.a, name);
          await lock.acquire(WAIT);
          await killHolder(f.b, (await lock.holder())!);
          const t0 = Date.now();
          const next = lockOn(f.b, name);
          await next.acquire(SLACK);
          const lost = await lossOf(lock, HEARTBEAT + SLACK);
          assert.ok(lost !== undefined, `assertHeld() did not notice within ${Date.now() - t0} ms that the session holding the lock was ended`);
          console.log(`${target.name} ${lockMode}: the holder noticed its lost session after ${Date.now() - t0} ms`);
          assertLockError(lost, 'lost');
          await lock.release();
          await lock.release();
          next.assertHeld();
          await next.release();
        });
      }
    });
  }
}
