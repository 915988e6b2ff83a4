import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager, FailoverError, UsageError } from '../../src/index.js';
import type { ReplicationStatus } from '../../src/index.js';
import { freePort } from '../support/free-port.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';
import { AckedWriter } from '../support/acked-writer.js';

/**
 * The replication manager on real PostgreSQL 15 clusters: the seed's setupReplication creates the replicas, a
 * switchover and a manual failover run under a writer that records every acknowledged id, and nothing acknowledged
 * is missing afterwards (sync mode). The old primary comes back as a replica both times.
 */
describe('dm.replication on PostgreSQL (sync mode, 3 members)', { timeout: 240_000 }, () => {
  let rp: ReplicatedPostgres;
  let dm: DataManager;
  const stateDir = mkdtempSync(join(tmpdir(), 'dk-repl-state-'));

  before(async () => {
    rp = await ReplicatedPostgres.start({ name: 'mgr' });
    await rp.query(rp.primaryNode, 'CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');
    dm = new DataManager({ config: { databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', timeout: 2000 }], state: { dir: stateDir }, logLevel: 'error' } });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close().catch(() => undefined);
    await rp?.destroy();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const node = (name: string) => rp.nodes.find((n) => n.name === name)!;
  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const streaming = (s: ReplicationStatus, name: string) => s.nodes.find((n) => n.name === name)?.streamState === 'streaming';

  it('setupReplication (the seed\'s call) creates both replicas from empty data directories and streams to them', async () => {
    const replicas = [];
    for (const name of ['r1', 'r2']) {
      const port = await freePort('127.0.0.1');
      const dataDir = rp.replicaDataDir(name);
      rp.nodes.push(rp.node(name, port, dataDir));
      replicas.push({ type: 'postgresql', host: '127.0.0.1', port, name, dataDir });
    }
    const result = await dm.setupReplication({ enabled: true, mode: 'sync', replicas, failoverTimeout: 5000, primary: { name: 'p0', dataDir: rp.primary.dataDir } });
    assert.deepEqual([...result.created].sort(), ['r1', 'r2']);
    assert.equal(result.primary, 'p0');
    await until('both replicas streaming as sync candidates', async () => {
      const s = await dm.replication.status();
      return streaming(s, 'r1') && streaming(s, 'r2') && s.syncStandbys.length >= 1 && s.problems.length === 0;
    });
    const [setting] = await rp.query<{ s: string }>(rp.primaryNode, "SELECT current_setting('synchronous_standby_names') AS s");
    assert.match(setting!.s, /^ANY 1 \("?r1"?, "?r2"?\)$/);

    const health = (await dm.getHealthStatus()).get('app')!;
    assert.equal(health.status, 'healthy', health.reasons.join('; '));
    const members = (health.details!.replication as { members: { name: string; role: string; lagBytes?: number }[] }).members;
    assert.deepEqual(members.map((m) => `${m.name}:${m.role}`), ['p0:primary', 'r1:replica', 'r2:replica']);
    // Idle and caught up: no lag, in bytes or seconds.
    await until('zero lag while idle', async () => (await dm.replication.status()).nodes.filter((n) => n.role === 'replica').every((n) => n.lag?.replayBytes === 0 && (n.lag.replaySeconds ?? 0) === 0));
    const exposition = await dm.monitoring.metricsText();
    assert.match(exposition, /datakeep_replication_lag_bytes\{database_id="app",replica="r1"\} 0/);
    assert.match(exposition, /datakeep_replication_sync_standbys\{database_id="app"\} [12]/);
  });

  it('lag shows under load when a replica is paused, and health says which', async () => {
    rp.pause(node('r2'));
    try {
      for (let i = 0; i < 20; i += 1) await dm.execute('INSERT INTO t (id) VALUES (?)', [1_000_000 + i]);
      await dm.execute("SELECT pg_switch_wal()");
      const s = await dm.replication.status();
      const r2 = s.nodes.find((n) => n.name === 'r2')!;
      // The primary still sees r2's connection; r2 itself does not answer.
      assert.ok(!r2.reachable || (r2.lag?.replayBytes ?? 0) > 0, JSON.stringify(r2));
      const health = (await dm.getHealthStatus()).get('app')!;
      assert.equal(health.status, 'degraded');
      assert.ok(health.reasons.some((r) => r.includes('r2')), health.reasons.join('; '));
    } finally {
      rp.resume(node('r2'));
    }
    await until('r2 caught up again', async () => (await dm.replication.status()).nodes.find((n) => n.name === 'r2')?.lag?.replayBytes === 0);
  });

  it('a dry run prints the plan and changes nothing; an unknown member is named', async () => {
    const plan = await dm.replication.switchover({ target: 'r2', dryRun: true });
    assert.equal(plan.dryRun, true);
    assert.equal(plan.to, 'r2');
    assert.deepEqual(plan.steps.map((s) => s.step), ['stop writes', 'wait for replay', 'publish new primary', 'promote', 'route writes and re-point replicas', 'rejoin old primary']);
    assert.equal((await dm.replication.status()).primary, 'p0');
    await dm.execute('INSERT INTO t (id) VALUES (?)', [2_000_000]);
    await assert.rejects(dm.failover('replica9:5432'), (e: unknown) => e instanceof UsageError && /not a member.*p0 \(127\.0\.0\.1:\d+\), r1/.test(e.message));
  });

  it('switchover under writes loses nothing, and the old primary streams from the new one', async () => {
    const writer = new AckedWriter(dm, 't', 3_000_000);
    writer.start();
    await new Promise((r) => setTimeout(r, 500));
    const result = await dm.replication.switchover({ target: 'r1' });
    await new Promise((r) => setTimeout(r, 500));
    await writer.stop();
    assert.equal(result.to, 'r1');
    assert.ok(writer.acked.length > 20, `only ${writer.acked.length} writes acknowledged`);
    const present = new Set((await rp.query<{ id: string }>(node('r1'), 'SELECT id::text FROM t')).map((r) => Number(r.id)));
    assert.deepEqual(writer.acked.filter((id) => !present.has(id)), [], 'acknowledged writes missing after the switchover');
    for (const e of writer.errors) assert.ok(e instanceof FailoverError || e.name === 'ConnectionError' || e.name === 'CircuitOpenError', `unexpected ${e.name}: ${e.message}`);
    await until('p0 streams from r1', async () => streaming(await dm.replication.status(), 'p0'));
    const [recovery] = await rp.query<{ r: boolean }>(node('p0'), 'SELECT pg_is_in_recovery() AS r');
    assert.equal(recovery!.r, true);
  });

  it('the primary SIGKILLed: dm.failover() promotes the best replica, nothing acknowledged is lost, the old primary comes back as a replica', async () => {
    const writer = new AckedWriter(dm, 't', 4_000_000);
    writer.start();
    await new Promise((r) => setTimeout(r, 700));
    const killedAt = Date.now();
    await rp.kill(node('r1'));
    const result = await dm.failover();
    const firstAfter = await writer.firstAckAfter(killedAt, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    await writer.stop();
    assert.notEqual(result.to, 'r1');
    assert.equal(result.from, 'r1');
    assert.ok(result.steps.some((s) => s.step === 'fence old primary'), JSON.stringify(result.steps));
    const present = new Set((await rp.query<{ id: string }>(node(result.to), 'SELECT id::text FROM t')).map((r) => Number(r.id)));
    assert.deepEqual(writer.acked.filter((id) => !present.has(id)), [], 'acknowledged writes lost in sync mode');
    assert.ok(firstAfter - killedAt < 30_000);
    // In-flight writes failed with a FailoverError (or a plain connection error while nothing was routed yet).
    assert.ok(writer.errors.every((e) => e.name === 'FailoverError' || e.name === 'ConnectionError' || e.name === 'CircuitOpenError'), writer.errors.map((e) => e.name).join(','));
    // The old primary was fenced offline and rejoined in the background (pg_rewind if it had diverged).
    await until('r1 back as a replica', async () => {
      const s = await dm.replication.status();
      return s.nodes.find((n) => n.name === 'r1')?.role === 'replica';
    }, 60_000);
    await assert.rejects(rp.query(node('r1'), 'INSERT INTO t (id) VALUES (1)'), /read-only/);
  });
});
