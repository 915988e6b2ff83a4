import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdAuthority } from '../../src/replication/etcd-authority.js';
import type { ClusterRecord, Leadership } from '../../src/replication/failover-authority.js';
import { FailoverWatcher } from '../../src/replication/failover-watcher.js';
import { FailoverProcess, until } from '../support/failover-process.js';
import { probePostgres } from '../support/probe-postgres.js';
import { ThrowawayEtcd } from '../support/throwaway-etcd.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

const TTL = 2000;
const FAILOVER_TIMEOUT = 2000;
const CHECK_INTERVAL = 200;
/** Scheduling slack on a shared 2-core machine. */
const MARGIN = 1000;

const bootstrap = (primary: string): ClusterRecord => ({ primary, epoch: 1, fenced: [], at: new Date().toISOString(), by: 'test', reason: 'bootstrap' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('failover watcher', () => {
  let etcd: ThrowawayEtcd;
  let primary: ThrowawayPostgres;
  let standby: ThrowawayPostgres;
  const authorities: EtcdAuthority[] = [];
  const watchers: FailoverWatcher[] = [];
  const workers: FailoverProcess[] = [];
  const open = (cluster: string) => {
    const authority = new EtcdAuthority({ type: 'etcd', endpoints: [etcd.endpoint], cluster, leaseTtl: TTL });
    authorities.push(authority);
    return authority;
  };
  /** Writes the bootstrap record as the first leader would, then gives the leadership up. */
  const seed = async (cluster: string, primaryName: string) => {
    const authority = open(cluster);
    const leadership = await authority.campaign('seed', { ttlMs: TTL, timeoutMs: 5000 });
    await leadership.putIfLeader(bootstrap(primaryName), { timeoutMs: 3000 });
    await leadership.resign();
  };

  before(async () => {
    [etcd, primary, standby] = await Promise.all([ThrowawayEtcd.start({ name: 'etcd-watcher' }), ThrowawayPostgres.start(), ThrowawayPostgres.start()]);
  });
  after(async () => {
    await Promise.all(watchers.map((w) => w.stop().catch(() => undefined)));
    await Promise.all(workers.map((w) => w.end(5000)));
    await Promise.all(authorities.map((a) => a.close()));
    await Promise.all([etcd.stop(), primary.destroy(), standby.destroy()]);
  });

  it('a blip shorter than failoverTimeout does not fail over; a killed primary does, once, after failoverTimeout', async (t) => {
    const cluster = 'inproc';
    await seed(cluster, 'pg');
    const ports: Record<string, number> = { pg: primary.port, standby: standby.port };
    let current: ClusterRecord | undefined;
    const calls: number[] = [];
    const watcher = new FailoverWatcher({
      authority: open(cluster),
      holder: 'w1',
      ttlMs: TTL,
      checkIntervalMs: CHECK_INTERVAL,
      failoverTimeoutMs: FAILOVER_TIMEOUT,
      probePrimary: () => (current ? probePostgres(ports[current.primary]!) : Promise.resolve(false)),
      onPrimaryDown: async (leadership: Leadership) => {
        calls.push(Date.now());
        const epoch = current!.epoch + 1;
        await leadership.putIfLeader({ primary: 'standby', epoch, fenced: [current!.primary], at: new Date().toISOString(), by: 'w1', reason: 'failover' }, { timeoutMs: 3000 });
      },
      onRecord: (record) => (current = record),
    });
    watchers.push(watcher);
    watcher.start();
    await until(() => watcher.state().leader && watcher.state().lastProbeOk === true, 15_000, 'the watcher to lead and see the primary');
    assert.equal(watcher.state().holder, 'w1');

    // A blip: the primary frozen for half the failover timeout. The probes fail meanwhile, and recover.
    let sawFailing = 0;
    primary.pause();
    const blipEnd = Date.now() + FAILOVER_TIMEOUT / 2;
    while (Date.now() < blipEnd) {
      sawFailing = Math.max(sawFailing, watcher.state().failingForMs);
      await sleep(20);
    }
    primary.resume();
    await until(() => watcher.state().lastProbeOk === true, 5000, 'the probes to succeed again');
    assert.ok(sawFailing > 0, 'the probes failed during the blip');
    await sleep(FAILOVER_TIMEOUT + MARGIN);
    assert.equal(calls.length, 0, 'no failover for a blip');

    // The primary crashes.
    const killedAt = Date.now();
    await primary.kill();
    await until(() => calls.length > 0, FAILOVER_TIMEOUT + 2 * CHECK_INTERVAL + MARGIN + 2000, 'onPrimaryDown');
    const after = calls[0]! - killedAt;
    t.diagnostic(`blip: probes failing for up to ${sawFailing} ms; kill: onPrimaryDown after ${after} ms`);
    assert.ok(after >= FAILOVER_TIMEOUT, `onPrimaryDown ${after} ms after the kill, before failoverTimeout`);
    assert.ok(after <= FAILOVER_TIMEOUT + 2 * CHECK_INTERVAL + MARGIN, `onPrimaryDown ${after} ms after the kill`);
    await until(() => current?.primary === 'standby', 5000, 'the watcher to follow its own record');
    await until(() => watcher.state().lastProbeOk === true, 5000, 'the probes to reach the new primary');
    await sleep(FAILOVER_TIMEOUT + MARGIN);
    assert.equal(calls.length, 1, 'onPrimaryDown called once');
    assert.equal(watcher.state().failovers, 1);

    await watcher.stop();
    assert.equal(watcher.state().leader, false);
    assert.equal(await open(cluster).leader({ timeoutMs: 2000 }), undefined, 'stop() resigned');
  });

  it('the leader killed right after it was told the primary is down: the other instance takes over and fails over', async (t) => {
    const cluster = 'procs';
    await primary.start();
    await seed(cluster, 'pg');
    const input = (holder: string) => ({
      mode: 'watcher' as const,
      endpoints: [etcd.endpoint],
      cluster,
      holder,
      ttlMs: TTL,
      checkIntervalMs: CHECK_INTERVAL,
      failoverTimeoutMs: FAILOVER_TIMEOUT,
      nodes: { pg: primary.port, standby: standby.port },
      promote: 'standby',
      // Long enough that the first leader is killed before it writes anything.
      stepsMs: 1500,
    });
    const a = new FailoverProcess(input('a'));
    workers.push(a);
    await a.waitFor('held', 30_000);
    await a.waitFor('record', 10_000);
    const b = new FailoverProcess(input('b'));
    workers.push(b);
    await b.waitFor('record', 30_000);
    assert.equal(b.all('held').length, 0, 'b does not lead while a does');

    const crashedAt = Date.now();
    await primary.kill();
    const told = await a.waitFor('primary-down', FAILOVER_TIMEOUT + 2 * CHECK_INTERVAL + MARGIN + 2000);
    assert.ok(told.t - crashedAt >= FAILOVER_TIMEOUT);
    const aKilledAt = await a.kill();
    assert.equal(a.all('failed-over').length, 0, 'a was killed before its failover wrote anything');

    const bHeld = await b.waitFor('held', TTL + MARGIN + 1000);
    assert.ok(bHeld.t - aKilledAt <= TTL + MARGIN, `b led ${bHeld.t - aKilledAt} ms after a was killed`);
    const bTold = await b.waitFor('primary-down', FAILOVER_TIMEOUT + 2 * CHECK_INTERVAL + MARGIN + 2000);
    assert.ok(bTold.t - bHeld.t >= FAILOVER_TIMEOUT, 'b detects the outage itself');
    const done = await b.waitFor('failed-over', 5000);
    t.diagnostic(`a told ${told.t - crashedAt} ms after the crash; b led ${bHeld.t - aKilledAt} ms after a's kill, told ${bTold.t - bHeld.t} ms later`);
    assert.equal(done.epoch, 2);
    await b.waitFor('record', 5000, { where: (e) => e.primary === 'standby' });
    const stored = await open(cluster).read({ timeoutMs: 2000 });
    assert.deepEqual([stored?.primary, stored?.epoch, stored?.by, stored?.fenced], ['standby', 2, 'b', ['pg']]);
    // One primary: b keeps probing the standby and does not fail over again.
    await sleep(FAILOVER_TIMEOUT + MARGIN);
    assert.equal(b.all('primary-down').length, 1);
    await b.end();
  });
});
