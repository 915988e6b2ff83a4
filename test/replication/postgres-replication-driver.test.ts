import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync, mkdtempSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReplicationError } from '../../src/errors/replication-error.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { replicationSlotName } from '../../src/engines/postgres/replication/slot-name.js';
import { parseStandbyNames, standbyNamesValue } from '../../src/engines/postgres/replication/sync-settings.js';
import type { NodeStatus, ReplicationNode } from '../../src/replication/replication-part.js';
import { freePort } from '../support/free-port.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

let rp: ReplicatedPostgres;
let r1: ReplicationNode;
let r2: ReplicationNode;

const progress: [number, number | undefined][] = [];

before(async () => {
  rp = await ReplicatedPostgres.start({ name: 'repl-driver' });
  await rp.primary.query('CREATE TABLE t (id int PRIMARY KEY, pad text)');
  await rp.primary.query("INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
  const made = await rp.createReplicas(2, { onProgress: (copied, total) => progress.push([copied, total]) });
  r1 = made[0]!;
  r2 = made[1]!;
});
after(async () => {
  await rp?.destroy();
});

const driver = () => rp.driver;
const byName = (all: NodeStatus[], name: string) => all.find((s) => s.name === name)!;

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (${String(last)})`);
}

describe('PostgreSQL replication driver: replicas, status, sync', () => {
  it('is the postgres engine\'s replication part', () => {
    assert.equal(getEngine('postgresql').parts.replication, rp.driver);
    assert.equal(rp.driver.authority, 'datakeep');
  });

  it('creates replicas that stream from the primary with their node name and slot', async () => {
    assert.ok(progress.length > 0, 'pg_basebackup progress was reported');
    const last = progress[progress.length - 1]!;
    assert.ok(last[0] > 1_000_000, `copied bytes ${last[0]}`);
    const slots = await rp.primary.query<{ slot_name: string; active: boolean }>('SELECT slot_name, active FROM pg_replication_slots ORDER BY 1');
    assert.deepEqual(slots.map((s) => [s.slot_name, s.active]), [['datakeep_r1', true], ['datakeep_r2', true]]);
    const names = await rp.primary.query<{ application_name: string }>('SELECT application_name FROM pg_stat_replication ORDER BY 1');
    assert.deepEqual(names.map((n) => n.application_name), ['r1', 'r2']);
    const rows = await driver().status([r1], { timeoutMs: 3_000 });
    assert.equal(rows[0]!.role, 'replica');
    assert.equal(rows[0]!.readOnly, true);
  });

  it('reports roles, positions, upstream and zero lag when idle', async () => {
    const idle = await eventually('idle lag 0', async () => {
      const all = await driver().status(rp.nodes, { timeoutMs: 3_000 });
      const lags = [byName(all, 'r1').lag, byName(all, 'r2').lag];
      return lags.every((l) => l?.replayBytes === 0 && l.writeSeconds === 0 && l.replaySeconds === 0) ? all : undefined;
    });
    const p0 = byName(idle, 'p0');
    assert.equal(p0.role, 'primary');
    assert.equal(p0.reachable, true);
    assert.equal(p0.timeline, 1);
    assert.equal(p0.readOnly, false);
    for (const name of ['r1', 'r2']) {
      const s = byName(idle, name);
      assert.equal(s.role, 'replica');
      assert.equal(s.upstream, 'p0');
      assert.equal(s.streamState, 'streaming');
      assert.equal(s.syncState, 'async');
      assert.equal(s.timeline, 1);
      assert.equal(driver().comparePositions(s.replayedPosition!, p0.position!), 0);
    }
  });

  it('reports byte lag of a paused replica while a writer runs, and an unreachable node without throwing', async () => {
    rp.pause(r2);
    try {
      await rp.primary.query("INSERT INTO t SELECT g, repeat('y', 200) FROM generate_series(20001, 60000) g");
      const all = await driver().status(rp.nodes, { timeoutMs: 1_500 });
      const s2 = byName(all, 'r2');
      assert.equal(s2.reachable, false);
      assert.equal(s2.role, 'unknown');
      assert.ok(s2.error && !/password/i.test(s2.error));
      assert.ok((s2.lag?.replayBytes ?? 0) > 1_000_000, `r2 replay lag ${s2.lag?.replayBytes}`);
      assert.ok((s2.lag?.writeBytes ?? 0) > 0, `r2 write lag ${s2.lag?.writeBytes}`);
      const caughtUp = await eventually('r1 caught up', async () => {
        const s = byName(await driver().status(rp.nodes, { timeoutMs: 1_500 }), 'r1');
        return s.lag?.replayBytes === 0 ? s : undefined;
      });
      assert.equal(caughtUp.reachable, true);
    } finally {
      rp.resume(r2);
    }
    await eventually('r2 caught up after resume', async () => ((byName(await driver().status(rp.nodes, { timeoutMs: 3_000 }), 'r2').lag?.replayBytes === 0) ? true : undefined));
  });

  it('applies ANY 1 and FIRST 1 sync settings and reports the sync state', async () => {
    const p0 = rp.primaryNode;
    const any = await driver().configureSync(p0, { mode: 'sync', method: 'any', count: 1, standbys: ['r1', 'r2'] }, { timeoutMs: 5_000 });
    assert.deepEqual(any, { mode: 'sync', method: 'any', count: 1, standbys: ['r1', 'r2'] });
    const inForce = await rp.primary.query<{ v: string }>("SELECT current_setting('synchronous_standby_names') AS v");
    assert.equal(inForce[0]?.v, 'ANY 1 ("r1", "r2")');
    await eventually('quorum', async () => {
      const all = await driver().status(rp.nodes, { timeoutMs: 3_000 });
      return byName(all, 'r1').syncState === 'quorum' && byName(all, 'r2').syncState === 'quorum' ? true : undefined;
    });
    // A commit now waits for one of them: it still completes.
    await rp.primary.query('INSERT INTO t VALUES (-1, $1)', ['sync']);

    const first = await driver().configureSync(p0, { mode: 'sync', method: 'first', count: 1, standbys: ['r2', 'r1'] }, { timeoutMs: 5_000 });
    assert.deepEqual(first, { mode: 'sync', method: 'first', count: 1, standbys: ['r2', 'r1'] });
    await eventually('first', async () => {
      const all = await driver().status(rp.nodes, { timeoutMs: 3_000 });
      return byName(all, 'r2').syncState === 'sync' && byName(all, 'r1').syncState === 'potential' ? true : undefined;
    });

    const off = await driver().configureSync(p0, { mode: 'async', method: 'any', count: 0, standbys: [] }, { timeoutMs: 5_000 });
    assert.equal(off.mode, 'async');
    await eventually('async', async () => (byName(await driver().status(rp.nodes, { timeoutMs: 3_000 }), 'r1').syncState === 'async' ? true : undefined));
  });

  it('refuses sync settings it cannot express', async () => {
    await assert.rejects(driver().configureSync(rp.primaryNode, { mode: 'sync', method: 'any', count: 3, standbys: ['r1', 'r2'] }, { timeoutMs: 2_000 }),
      (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /sync\.count/.test(e.message));
  });

  it('sets a candidate replica\'s sync settings before its promotion', async () => {
    const set = await driver().configureSync(r1, { mode: 'sync', method: 'first', count: 1, standbys: ['p0', 'r2'] }, { timeoutMs: 5_000 });
    assert.deepEqual(set, { mode: 'sync', method: 'first', count: 1, standbys: ['p0', 'r2'] });
    assert.equal((await rp.query<{ v: string }>(r1, "SELECT current_setting('synchronous_standby_names') AS v"))[0]?.v, 'FIRST 1 ("p0", "r2")');
    assert.equal(byName(await driver().status([r1], { timeoutMs: 3_000 }), 'r1').role, 'replica');
    await driver().configureSync(r1, { mode: 'async', method: 'any', count: 0, standbys: [] }, { timeoutMs: 5_000 });
  });

  it('waits for replay with a bound, and a timeout names the node and the step', async () => {
    const lsn = await rp.currentLsn(rp.primaryNode);
    await driver().waitForReplay(r1, lsn, { timeoutMs: 10_000 });
    const started = Date.now();
    await assert.rejects(driver().waitForReplay(r1, 'FF/0', { timeoutMs: 600 }),
      (e: unknown) => e instanceof ReplicationError && e.reason === 'timeout' && e.node === 'r1' && /replay of FF\/0/.test(e.message));
    assert.ok(Date.now() - started < 5_000);
    await assert.rejects(driver().waitForReplay(rp.primaryNode, lsn, { timeoutMs: 2_000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'not-a-replica');
  });
});

describe('PostgreSQL replication driver: write fencing', () => {
  it('stops writes on a primary it cannot reach on disk (read-only, sessions ended) and resumes them', async () => {
    const remote = rp.node('p0', rp.primary.port, undefined);
    const held = await rp.connect(remote);
    const { position } = await driver().stopWrites(remote, { timeoutMs: 5_000 });
    await assert.rejects(held.query('SELECT 1'), 'the open session was terminated');
    await held.end().catch(() => undefined);
    await assert.rejects(rp.query(remote, 'INSERT INTO t VALUES (-2, null)'), (e: { code?: string }) => e.code === '25006');
    const replayed = await driver().status([remote], { timeoutMs: 3_000 });
    assert.equal(replayed[0]!.readOnly, true);
    await driver().waitForReplay(r1, position, { timeoutMs: 10_000 });
    await driver().resumeWrites(remote, { timeoutMs: 5_000 });
    await rp.query(remote, 'INSERT INTO t VALUES (-2, null)');
  });

  it('fences a reachable remote node by configuration and reports that it is not durable; an unreachable one gets nothing', async () => {
    const remote = rp.node('p0', rp.primary.port, undefined);
    const fenced = await driver().fence(remote, r1, { timeoutMs: 5_000 });
    assert.equal(fenced.durable, false);
    assert.equal(fenced.actions[0], 'default_transaction_read_only=on');
    await assert.rejects(rp.query(remote, 'INSERT INTO t VALUES (-3, null)'), (e: { code?: string }) => e.code === '25006');
    await driver().resumeWrites(remote, { timeoutMs: 5_000 });
    const gone = rp.node('gone', await freePort('127.0.0.1'), undefined);
    assert.deepEqual(await driver().fence(gone, r1, { timeoutMs: 2_000 }), { actions: [], durable: false });
    const replicaFence = await driver().fence(rp.node('r1', r1.port, undefined), undefined, { timeoutMs: 2_000 });
    assert.deepEqual(replicaFence, { actions: ['already in recovery (read-only)'], durable: true });
  });

  it('stops a local primary cleanly at a position its replicas replay, and starts it again on resume', async () => {
    const p0 = rp.primaryNode;
    await rp.primary.query('INSERT INTO t VALUES (-4, null)');
    const { position } = await driver().stopWrites(p0, { timeoutMs: 20_000 });
    assert.equal(rp.pid(p0), undefined);
    await driver().waitForReplay(r1, position, { timeoutMs: 10_000 });
    await driver().waitForReplay(r2, position, { timeoutMs: 10_000 });
    assert.equal((await rp.query(r2, 'SELECT 1 FROM t WHERE id = -4')).length, 1);
    await driver().resumeWrites(p0, { timeoutMs: 20_000 });
    await rp.query(p0, 'INSERT INTO t VALUES (-5, null)');
    await assert.rejects(driver().promote(p0, { timeoutMs: 2_000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'not-a-replica');
  });

  it('refuses to rejoin a node without its data directory, or without wal_log_hints and checksums', async () => {
    await assert.rejects(driver().rejoin(rp.node('x', 1, undefined), r1, { timeoutMs: 2_000 }),
      (e: unknown) => e instanceof ReplicationError && e.reason === 'local-only' && /dataDir/.test(e.message));
    const plain = await ThrowawayPostgres.start({ name: 'no-hints' });
    try {
      const node = rp.node('plain', plain.port, plain.dataDir);
      await assert.rejects(driver().rejoin(node, r1, { timeoutMs: 10_000 }),
        (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /wal_log_hints = on/.test(e.message) && /checksums/.test(e.message));
      assert.ok(plain.isRunning(), 'the refused node was not touched');
    } finally {
      await plain.destroy();
    }
  });
});

describe('PostgreSQL replication driver: bad input', () => {
  it('compares and measures LSNs exactly and refuses malformed ones', () => {
    const d = driver();
    assert.equal(d.distance('0/0', '1/0'), 2 ** 32);
    assert.equal(d.distance('16/B374D848', '16/B374D850'), 8);
    assert.equal(d.distance('1/10', '0/FFFFFFFF'), 0);
    assert.ok(d.comparePositions('FFFFFFFF/FFFFFFFF', '0/1') > 0);
    assert.ok(d.comparePositions('0/A', '0/b') < 0);
    assert.equal(d.comparePositions('0/1A', '0/1a'), 0);
    for (const bad of ['', '0', '0/', '/1', 'G/1', '0/1/2', '123456789/0', ' 0/ 1']) {
      assert.throws(() => d.comparePositions(bad, '0/1'), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /LSN/.test(e.message), bad);
    }
    assert.throws(() => d.distance('0/1', 'x'), /not a PostgreSQL LSN/);
  });

  it('reads synchronous_standby_names in every form PostgreSQL accepts', () => {
    assert.deepEqual(parseStandbyNames(''), { mode: 'async', method: 'first', count: 0, standbys: [] });
    assert.deepEqual(parseStandbyNames('A, b'), { mode: 'sync', method: 'first', count: 1, standbys: ['a', 'b'] });
    assert.deepEqual(parseStandbyNames('2 (a, "B c")'), { mode: 'sync', method: 'first', count: 2, standbys: ['a', 'B c'] });
    assert.deepEqual(parseStandbyNames('any 1 ("x""y", z)'), { mode: 'sync', method: 'any', count: 1, standbys: ['x"y', 'z'] });
    assert.equal(standbyNamesValue({ mode: 'sync', method: 'any', count: 2, standbys: ['r"1', '127.0.0.1:5433'] }), 'ANY 2 ("r""1", "127.0.0.1:5433")');
  });

  it('derives slot names PostgreSQL accepts', () => {
    assert.equal(replicationSlotName('R-1.eu west'), 'datakeep_r_1_eu_west');
    assert.ok(replicationSlotName('x'.repeat(100)).length <= 63);
  });

  it('refuses a non-empty data directory, a used port and a parent the postgres user cannot enter', async () => {
    const dir = rp.replicaDataDir('bad1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep.txt'), 'user data');
    const port = await freePort('127.0.0.1');
    const opts = { slot: 'datakeep_bad1', timeoutMs: 10_000 };
    await assert.rejects(driver().createReplica(rp.primaryNode, rp.node('bad1', port, dir), opts),
      (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /not empty/.test(e.message) && /keep\.txt/.test(e.message));
    rmSync(join(dir, 'keep.txt'));
    await assert.rejects(driver().createReplica(rp.primaryNode, rp.node('bad1', rp.primary.port, dir), opts),
      (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && new RegExp(`port ${rp.primary.port}`).test(e.message));
    const closed = mkdtempSync(join(tmpdir(), 'dk-closed-'));
    try {
      chownSync(closed, 0, 0);
      chmodSync(closed, 0o700);
      await assert.rejects(driver().createReplica(rp.primaryNode, rp.node('bad2', port, join(closed, 'data')), opts),
        (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && e.message.includes(closed) && /cannot enter/.test(e.message));
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
    const slots = await rp.primary.query<{ slot_name: string }>("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'datakeep_bad%'");
    assert.deepEqual(slots, [], 'nothing was created on the primary');
  });
});
