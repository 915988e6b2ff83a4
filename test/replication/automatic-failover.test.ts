import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager, type DatakeepConfig } from '../../src/index.js';
import { EtcdAuthority } from '../../src/replication/etcd-authority.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';
import { AckedWriter } from '../support/acked-writer.js';
import { FailoverProcess } from '../support/failover-process.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';
import { ThrowawayEtcd } from '../support/throwaway-etcd.js';

const WORKER = new URL('../support/replication-watch-worker.ts', import.meta.url).pathname;

/**
 * Automatic failover on real processes: two datakeep instances (child processes) campaign for the lease in a real
 * etcd and watch a 3-member PostgreSQL cluster in sync mode; the application's own DataManager only follows the
 * authority's record. The primary is SIGKILLed under a writer that records every acknowledged id: a new primary
 * takes writes (RTO measured), nothing acknowledged is lost, exactly one member accepts writes. Then the instance
 * holding the lease is SIGKILLed in the middle of the next failover: the other takes over and finishes it.
 */
describe('automatic failover with an etcd lease (sync mode, 3 members, 2 watching instances)', { timeout: 420_000 }, () => {
  let etcd: ThrowawayEtcd;
  let rp: ReplicatedPostgres;
  let app: DataManager;
  let config: DatakeepConfig;
  const workers: FailoverProcess[] = [];
  const stateDirs: string[] = [];
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'dk-auto-failover-'));
    stateDirs.push(dir);
    return dir;
  };

  before(async () => {
    etcd = await ThrowawayEtcd.start();
    rp = await ReplicatedPostgres.start({ name: 'auto' });
    await rp.createReplicas(2);
    await rp.query(rp.primaryNode, 'CREATE TABLE t (id bigint PRIMARY KEY)');
    const member = (n: ReplicationNode) => ({ type: 'postgresql', host: n.host, port: n.port, name: n.name, dataDir: n.dataDir });
    config = {
      databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', timeout: 1000, statementTimeout: 5000 }],
      logLevel: 'error',
      replication: {
        enabled: true,
        mode: 'sync',
        primary: { name: 'p0', dataDir: rp.primary.dataDir },
        replicas: rp.nodes.slice(1).map(member),
        failoverTimeout: 2000,
        checkInterval: 200,
        authority: { type: 'etcd', endpoints: [etcd.endpoint], leaseTtl: 3000 },
      },
    };
    for (const holder of ['a', 'b']) workers.push(new FailoverProcess({ holder, config: { ...config, state: { dir: stateDir() } } }, WORKER));
    // Each worker compiles the sources (tsx) and sets up replication over three members: a minute or more on a loaded
    // machine. Both start at once.
    await Promise.all(workers.map((worker) => worker.waitFor('ready', 150_000)));
    app = new DataManager({ config: { ...config, state: { dir: stateDir() } } });
    await app.initialize();
    await app.setupReplication({ ...config.replication!, automaticFailover: false });
  });

  after(async () => {
    await app?.close().catch(() => undefined);
    await Promise.allSettled(workers.map((w) => w.end(5000)));
    await rp?.destroy();
    await etcd?.stop();
    for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
  });

  const node = (name: string) => rp.nodes.find((n) => n.name === name)!;
  const leader = async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = workers.find((w) => w.alive && w.all('leader').at(-1)?.leader === true);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no instance leads: ${JSON.stringify(workers.map((w) => w.events))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Members that accept writes now (pg_is_in_recovery() false), among those that answer. */
  const writable = async () => {
    const answers = await Promise.all(rp.nodes.map(async (n) => {
      const rows = await rp.query<{ r: boolean }>(n, 'SELECT pg_is_in_recovery() AS r').catch(() => undefined);
      return rows && rows[0]!.r === false ? n.name : undefined;
    }));
    return answers.filter((n): n is string => n !== undefined);
  };
  const missing = async (writer: AckedWriter, primary: string) => {
    const present = new Set((await rp.query<{ id: string }>(node(primary), 'SELECT id::text FROM t')).map((r) => Number(r.id)));
    return writer.acked.filter((id) => !present.has(id));
  };

  it('the primary SIGKILLed: the lease holder fails over within failoverTimeout + a few seconds; the application follows; nothing acknowledged is lost', async () => {
    const holder = await leader();
    const writer = new AckedWriter(app, 't', 1);
    writer.start();
    await new Promise((r) => setTimeout(r, 800));
    await rp.kill(node('p0'));
    // After the processes are gone: a write acknowledged while the kill was on its way counts for the old primary.
    const killedAt = Date.now();
    let firstAck: number;
    try {
      firstAck = await writer.firstAckAfter(killedAt, 30_000);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      // Left running after a failure, the writer would keep this file's process alive.
      await writer.stop();
    }
    const done = await holder.waitFor('replication', 5000, { where: (e) => e.kind === 'failover' && e.outcome === 'done' });
    const rto = (firstAck - killedAt) / 1000;
    process.stderr.write(`automatic failover: RTO ${rto.toFixed(2)} s, ${writer.acked.length} acknowledged, ${writer.errors.length} failed writes, new primary ${String(done.to)}; steps ${JSON.stringify(done.steps)}\n`);
    assert.ok(rto < 15, `RTO ${rto} s`);
    assert.deepEqual(await missing(writer, done.to as string), [], 'acknowledged writes lost in sync mode');
    assert.deepEqual(await writable(), [done.to], 'exactly one member accepts writes');
    assert.equal((await app.replication.status()).primary, done.to);
    // The old primary comes back by itself: rewound where it diverged, then a replica of the new primary.
    const rejoin = await holder.waitFor('replication', 60_000, { where: (e) => e.kind === 'rejoin' });
    assert.equal(rejoin.outcome, 'done', JSON.stringify(rejoin));
  });

  it('the lease holder SIGKILLed in the middle of the next failover: the other instance takes the lease and finishes it; never two primaries; nothing acknowledged lost', async () => {
    const holder = await leader();
    const other = workers.find((w) => w !== holder && w.alive)!;
    const authority = new EtcdAuthority({ type: 'etcd', endpoints: [etcd.endpoint], cluster: 'app' });
    const before = (await authority.read({ timeoutMs: 5000 }))!;
    const writer = new AckedWriter(app, 't', 1_000_000);
    writer.start();
    // The writer stops whatever happens: left running, it would keep this file's process alive after a failure.
    let took: { t: number };
    let killedAt: number;
    try {
      await new Promise((r) => setTimeout(r, 800));
      // Kill the holder as soon as it publishes the new primary (after fencing, before or while promoting).
      const published = new Promise<void>((resolve) => void authority.watch((record) => {
        if (record.epoch > before.epoch) resolve();
      }).then((stop) => published.finally(() => stop())));
      await rp.kill(node(before.primary));
      killedAt = Date.now();
      await published;
      await holder.kill();
      await authority.close();
      took = await other.waitFor('leader', 20_000, { where: (e) => e.leader === true });
      // The killed holder may have promoted the candidate before it died (nothing left to finish) or not (the other
      // instance finishes the promotion): either way exactly one member accepts writes, soon after the takeover.
      const deadline = Date.now() + 30_000;
      while ((await writable()).length !== 1) {
        if (Date.now() > deadline) assert.fail(`no single writable member 30 s after the takeover (${(await writable()).join(', ') || 'none'})`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // Sync mode: commits on the new primary wait for a standby, so writes resume only once a member follows the
      // second timeline switch (the one rejoined after the first failover, rewound again).
      await writer.firstAckAfter(Date.now(), 30_000);
    } finally {
      await writer.stop();
    }
    assert.ok(took.t > killedAt, 'the other instance took the lease after the kill');
    const primaries = await writable();
    assert.equal(primaries.length, 1, `members accepting writes: ${primaries.join(', ')}`);
    assert.deepEqual(await missing(writer, primaries[0]!), [], 'acknowledged writes lost in sync mode');
    assert.equal((await app.replication.status()).primary, primaries[0]);
  });
});
