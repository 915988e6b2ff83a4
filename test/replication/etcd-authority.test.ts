import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors/configuration-error.js';
import { ReplicationError } from '../../src/errors/replication-error.js';
import { EtcdAuthority } from '../../src/replication/etcd-authority.js';
import type { ClusterRecord } from '../../src/replication/failover-authority.js';
import { FailoverProcess, leadershipIntervals, until } from '../support/failover-process.js';
import { freePort } from '../support/free-port.js';
import { ThrowawayEtcd } from '../support/throwaway-etcd.js';

const execFileAsync = promisify(execFile);
const TTL = 2000;
/** Scheduling slack on a shared 2-core machine: etcd checks expiry every 500 ms, a worker may be slow to be scheduled. */
const MARGIN = 2000;

const record = (epoch: number, by: string, primary = 'n1'): ClusterRecord => ({ primary, epoch, fenced: [], at: new Date().toISOString(), by, reason: epoch === 1 ? 'bootstrap' : 'failover' });
const isReason = (reason: string, pattern?: RegExp) => (e: unknown) => e instanceof ReplicationError && e.reason === reason && (pattern?.test(e.message) ?? true);

/** No two workers' leadership intervals overlap: each starts no earlier than the one before it certainly ended. */
function assertNoOverlap(processes: FailoverProcess[], killedAt: Map<string, number> = new Map()): void {
  const intervals = leadershipIntervals(processes, killedAt);
  for (let i = 1; i < intervals.length; i += 1) {
    const [prev, next] = [intervals[i - 1]!, intervals[i]!];
    assert.ok(next.start >= prev.end, `${next.holder} held from ${next.start} while ${prev.holder} held until ${prev.end}: ${JSON.stringify(intervals)}`);
  }
}

describe('etcd failover authority', () => {
  let etcd: ThrowawayEtcd;
  const workers: FailoverProcess[] = [];
  const authorities: EtcdAuthority[] = [];
  let clusterNo = 0;
  const open = (cluster: string, extra: Partial<{ leaseTtl: number }> = {}) => {
    const authority = new EtcdAuthority({ type: 'etcd', endpoints: [etcd.endpoint], cluster, leaseTtl: TTL, ...extra });
    authorities.push(authority);
    return authority;
  };
  const spawnWorkers = (cluster: string, names: string[]) =>
    names.map((holder) => {
      const worker = new FailoverProcess({ mode: 'authority', endpoints: [etcd.endpoint], cluster, holder, ttlMs: TTL });
      workers.push(worker);
      return worker;
    });
  /** The first of `candidates` to report `held` (its nth), waiting at most `timeoutMs`. */
  const firstHolder = (candidates: FailoverProcess[], timeoutMs: number, nth = 1) =>
    Promise.any(candidates.map((w) => w.waitFor('held', timeoutMs, { nth }).then((e) => ({ worker: w, at: e.t }))));

  before(async () => {
    etcd = await ThrowawayEtcd.start({ name: 'etcd-authority' });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.end(5000)));
    await Promise.all(authorities.map((a) => a.close()));
    await etcd.stop();
  });

  it('refuses bad configuration, naming the field', () => {
    assert.throws(() => new EtcdAuthority({ type: 'etcd', endpoints: [], cluster: 'c' }), (e: unknown) => e instanceof ConfigurationError && e.field === 'replication.authority.endpoints');
    assert.throws(() => new EtcdAuthority({ type: 'etcd', endpoints: ['127.0.0.1:2379'], cluster: 'c' }), (e: unknown) => e instanceof ConfigurationError && e.field === 'replication.authority.endpoints[0]');
    assert.throws(() => new EtcdAuthority({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'], cluster: 'c', leaseTtl: 500 }), (e: unknown) => e instanceof ConfigurationError && e.field === 'replication.authority.leaseTtl' && /2000/.test(e.fix));
    assert.throws(() => new EtcdAuthority({ type: 'etcd', endpoints: ['http://127.0.0.1:2379'] }), (e: unknown) => e instanceof ConfigurationError && e.field === 'replication.authority.cluster');
  });

  it('an etcd nobody answers on is "unreachable", naming the endpoint and never the password', async () => {
    const port = await freePort('127.0.0.1');
    const authority = new EtcdAuthority({ type: 'etcd', endpoints: [`http://127.0.0.1:${port}`], cluster: 'c', username: 'dk', password: 'hunter2-secret' });
    authorities.push(authority);
    const started = Date.now();
    await assert.rejects(authority.read({ timeoutMs: 1500 }), (e: unknown) => isReason('unreachable')(e) && (e as Error).message.includes(`127.0.0.1:${port}`) && !(e as Error).message.includes('hunter2'));
    await assert.rejects(authority.campaign('x', { ttlMs: TTL, timeoutMs: 1500 }), (e: unknown) => isReason('unreachable')(e) && !(e as Error).message.includes('hunter2'));
    assert.ok(Date.now() - started < 6000, `bounded: took ${Date.now() - started} ms`);
    assert.ok(!authority.description.includes('hunter2'));
  });

  it('in one process: campaign waits while held, resign hands over at once, putIfLeader is fenced by leadership and epoch', async () => {
    const cluster = `inproc${++clusterNo}`;
    const [a, b] = [open(cluster), open(cluster)];
    const la = await a.campaign('a', { ttlMs: TTL, timeoutMs: 5000 });
    assert.equal(await b.leader({ timeoutMs: 2000 }), 'a');
    await assert.rejects(b.campaign('b', { ttlMs: TTL, timeoutMs: 800 }), isReason('timeout', /"a" holds it/));

    const seen: ClusterRecord[] = [];
    const unsubscribe = await b.watch((r) => seen.push(r));
    await la.putIfLeader(record(1, 'a'), { timeoutMs: 3000 });
    await assert.rejects(la.putIfLeader(record(1, 'a', 'n2'), { timeoutMs: 3000 }), isReason('not-leader', /already has epoch 1/));
    assert.deepEqual((await b.read({ timeoutMs: 2000 }))?.primary, 'n1');

    const pending = b.campaign('b', { ttlMs: TTL, timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    const resignedAt = Date.now();
    await la.resign();
    const lb = await pending;
    assert.ok(Date.now() - resignedAt < 1500, `b took over ${Date.now() - resignedAt} ms after the resignation (the watch, not the TTL)`);
    assert.ok(la.lost.aborted, 'a resigned leadership is lost');
    await assert.rejects(la.putIfLeader(record(2, 'a'), { timeoutMs: 3000 }), isReason('not-leader'));
    await lb.putIfLeader(record(2, 'b', 'n2'), { timeoutMs: 3000 });
    const stored = await a.read({ timeoutMs: 2000 });
    assert.equal(stored?.epoch, 2);
    assert.equal(stored?.by, 'b');
    for (let i = 0; i < 30 && seen.length < 2; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen.map((r) => r.epoch), [1, 2]);
    await unsubscribe();
    await lb.resign();
  });

  it('the leadership is lost when its key is deleted or its lease revoked behind its back (etcdctl)', async () => {
    const cluster = `byhand${++clusterNo}`;
    const authority = open(cluster);
    const etcdctl = (...args: string[]) => execFileAsync('etcdctl', ['--endpoints', etcd.endpoint, '--command-timeout=5s', ...args], { timeout: 10_000 });
    const deleted = await authority.campaign('h', { ttlMs: TTL, timeoutMs: 5000 });
    await etcdctl('del', authority.leaderKey);
    await until(() => deleted.lost.aborted, 3000, 'lost after the key was deleted');
    assert.match(String(deleted.lost.reason), /deleted/);
    await assert.rejects(deleted.putIfLeader(record(1, 'h'), { timeoutMs: 3000 }), isReason('not-leader'));

    const revoked = await authority.campaign('h', { ttlMs: TTL, timeoutMs: 5000 });
    await etcdctl('lease', 'revoke', BigInt(revoked.leaseId).toString(16));
    await until(() => revoked.lost.aborted, 3000, 'lost after the lease was revoked');
    assert.equal(await authority.leader({ timeoutMs: 2000 }), undefined);
  });

  it('two processes: exactly one holds; SIGKILL the holder and the other holds within the TTL', async (t) => {
    const cluster = `kill${++clusterNo}`;
    const procs = spawnWorkers(cluster, ['p1', 'p2']);
    const first = await firstHolder(procs, 30_000);
    const other = procs.find((p) => p !== first.worker)!;
    // Both campaign for another second: the second must not hold meanwhile.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(other.all('held').length, 0, 'only one process holds');
    assert.equal(await open(cluster).leader({ timeoutMs: 2000 }), first.worker.name);
    assert.equal((await first.worker.put(1)).ok, true);

    const killedAt = await first.worker.kill();
    const next = await other.waitFor('held', TTL + MARGIN + 1000);
    t.diagnostic(`took over ${next.t - killedAt} ms after the kill`);
    assert.ok(next.t - killedAt <= TTL + MARGIN, `took over ${next.t - killedAt} ms after the kill (TTL ${TTL} ms)`);
    assert.ok(next.t >= killedAt, 'not before the holder died');
    assertNoOverlap(procs, new Map([[first.worker.name, killedAt]]));
    assert.equal((await other.put(2)).ok, true);
    await other.end();
  });

  it('two processes: SIGSTOP the holder past its TTL; the other takes over, and the resumed one is fenced', async (t) => {
    const cluster = `stop${++clusterNo}`;
    const procs = spawnWorkers(cluster, ['s1', 's2']);
    const first = await firstHolder(procs, 30_000);
    const old = first.worker;
    const other = procs.find((p) => p !== old)!;
    old.pause();
    const next = await other.waitFor('held', TTL * 2 + MARGIN);
    assert.equal((await other.put(5)).ok, true);
    old.resume();
    const answer = await old.put(6);
    assert.equal(answer.ok, false);
    assert.equal(answer.reason, 'not-leader');
    const lost = await old.waitFor('lost', 5000);
    t.diagnostic(`paused holder's lease certain until ${(lost.validUntil as number) - next.t} ms relative to the takeover`);
    assert.ok((lost.validUntil as number) <= next.t, `the paused holder's lease was certainly valid until ${String(lost.validUntil)}, the other held from ${next.t}`);
    assertNoOverlap(procs);
    const stored = await open(cluster).read({ timeoutMs: 2000 });
    assert.equal(stored?.epoch, 5);
    assert.equal(stored?.by, other.name);
    // The resumed process campaigns again but does not hold while the other does.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(old.all('held').length, 1);
    assertNoOverlap(procs);
  });

  it('etcd killed: the holder loses within about the TTL and cannot write; etcd restarted: campaigning resumes', async (t) => {
    const cluster = `etcd${++clusterNo}`;
    const procs = spawnWorkers(cluster, ['e1', 'e2']);
    const first = await firstHolder(procs, 30_000);
    assert.equal((await first.worker.put(1)).ok, true);
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = Date.now();
    await etcd.kill();
    const lost = await first.worker.waitFor('lost', TTL + MARGIN);
    assert.ok(lost.t - killedAt <= TTL + 1000, `lost ${lost.t - killedAt} ms after etcd died (TTL ${TTL} ms)`);
    t.diagnostic(`holder lost ${lost.t - killedAt} ms after etcd died`);
    const answer = await first.worker.put(2);
    assert.equal(answer.ok, false);
    assert.equal(answer.reason, 'not-leader');

    const restartedAt = Date.now();
    await etcd.restart();
    // etcd restores leases with a fresh TTL, so the old leader key lasts one more TTL before a campaign can win.
    const again = await Promise.any(procs.map((p) => p.waitFor('held', TTL * 3 + MARGIN * 2, { nth: p === first.worker ? 2 : 1 }).then((e) => ({ p, e }))));
    t.diagnostic(`held again ${again.e.t - restartedAt} ms after etcd restarted`);
    assert.ok(again.e.t >= restartedAt);
    assertNoOverlap(procs);
    assert.equal((await again.p.put(3)).ok, true);
    assert.equal((await open(cluster).read({ timeoutMs: 2000 }))?.epoch, 3);
  });
});
