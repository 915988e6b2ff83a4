import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import type { NodeStatus, ReplicationNode } from '../../src/replication/replication-part.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';

const T = { timeoutMs: 30_000 };
const clusters: ReplicatedPostgres[] = [];
after(async () => {
  for (const c of clusters) await c.destroy();
});

const byName = (all: NodeStatus[], name: string) => all.find((s) => s.name === name)!;

/** Inserts 1, 2, 3, ... on its own connection until an insert fails; `acknowledged` holds the ids whose commit returned. */
function startWriter(client: pg.Client, table: string): { acknowledged: number[]; done: Promise<unknown> } {
  const acknowledged: number[] = [];
  const done = (async () => {
    for (let id = 1; ; id += 1) {
      try {
        await client.query(`INSERT INTO ${table} VALUES ($1)`, [id]);
        acknowledged.push(id);
      } catch (error) {
        return error;
      }
    }
  })();
  return { acknowledged, done };
}

async function ids(rp: ReplicatedPostgres, node: ReplicationNode, table: string): Promise<Set<number>> {
  return new Set((await rp.query<{ id: number }>(node, `SELECT id FROM ${table}`)).map((r) => r.id));
}

describe('PostgreSQL replication driver: switchover and failover steps', () => {
  it('switches over by hand without losing an acknowledged write, and the old primary rejoins', async () => {
    const rp = await ReplicatedPostgres.start({ name: 'switchover' });
    clusters.push(rp);
    const d = rp.driver;
    await rp.primary.query('CREATE TABLE w (id int PRIMARY KEY)');
    const [r1, r2] = await rp.createReplicas(2);
    const p0 = rp.primaryNode;
    await d.configureSync(p0, { mode: 'sync', method: 'any', count: 1, standbys: ['r1', 'r2'] }, T);

    const client = await rp.connect(p0);
    const writer = startWriter(client, 'w');
    await new Promise((r) => setTimeout(r, 700));
    const { position } = await d.stopWrites(p0, T);
    const writerError = await writer.done;
    await client.end().catch(() => undefined);
    assert.ok(writer.acknowledged.length > 20, `writer acknowledged ${writer.acknowledged.length} rows`);
    assert.ok(writerError instanceof Error, 'the writer was stopped by stopWrites');
    assert.equal(rp.pid(p0), undefined, 'the local primary was shut down');

    await d.waitForReplay(r1!, position, T);
    await d.waitForReplay(r2!, position, T);
    const promoted = await d.promote(r1!, T);
    assert.equal(promoted.timeline, 2);
    assert.ok(d.comparePositions(promoted.position, position) > 0);
    await d.repoint(r2!, r1!, T);
    // ANY 1 (r1, r2) came with the copy; the new primary's standbys are p0 and r2.
    await d.configureSync(r1!, { mode: 'sync', method: 'any', count: 1, standbys: ['p0', 'r2'] }, T);
    const { rewound } = await d.rejoin(p0, r1!, T);
    assert.equal(rewound, false, 'a cleanly stopped primary needs no rewind');

    const onNew = await ids(rp, r1!, 'w');
    const lost = writer.acknowledged.filter((id) => !onNew.has(id));
    assert.deepEqual(lost, [], 'every acknowledged row is on the new primary');
    await rp.query(r1!, 'INSERT INTO w VALUES (-1)');
    const lsn = await rp.currentLsn(r1!);
    for (const node of [p0, r2!]) {
      await d.waitForReplay(node, lsn, T);
      assert.ok((await ids(rp, node, 'w')).has(-1));
    }
    const all = await d.status(rp.nodes, { timeoutMs: 5_000 });
    assert.equal(byName(all, 'r1').role, 'primary');
    assert.equal(byName(all, 'r1').timeline, 2);
    for (const name of ['p0', 'r2']) {
      assert.equal(byName(all, name).role, 'replica', name);
      assert.equal(byName(all, name).upstream, 'r1', name);
      assert.equal(byName(all, name).streamState, 'streaming', name);
      assert.equal(byName(all, name).syncState, 'quorum', name);
    }
  });

  it('fails over after SIGKILL: fences the dead primary, promotes the most advanced replica, rewinds the diverged old primary', async () => {
    const rp = await ReplicatedPostgres.start({ name: 'failover' });
    clusters.push(rp);
    const d = rp.driver;
    await rp.primary.query('CREATE TABLE f (id int PRIMARY KEY)');
    const [r1, r2] = await rp.createReplicas(2);
    const p0 = rp.primaryNode;
    await rp.primary.query('INSERT INTO f SELECT generate_series(1, 100)');
    const common = await rp.currentLsn(p0);
    await d.waitForReplay(r1!, common, T);
    await d.waitForReplay(r2!, common, T);

    // r2 stops first, so r1 gets 101..200 and r2 does not; then only the primary gets 201..300 (async: nobody waits).
    await d.fence(r2!, undefined, T);
    await rp.primary.query('INSERT INTO f SELECT generate_series(101, 200)');
    const r1Has = await rp.currentLsn(p0);
    await d.waitForReplay(r1!, r1Has, T);
    await d.fence(r1!, undefined, T);
    await rp.primary.query('INSERT INTO f SELECT generate_series(201, 300)');
    await rp.kill(p0);
    await rp.start(r1!);
    await rp.start(r2!);

    const seen = await d.status(rp.nodes, { timeoutMs: 2_000 });
    assert.equal(byName(seen, 'p0').reachable, false);
    const candidates = seen.filter((s) => s.role === 'replica').sort((a, b) => d.comparePositions(b.replayedPosition!, a.replayedPosition!));
    assert.deepEqual(candidates.map((c) => c.name), ['r1', 'r2'], 'r1 is the most advanced');

    const fenced = await d.fence(p0, r1!, T);
    assert.equal(fenced.durable, true);
    assert.ok(fenced.actions.includes('standby.signal written'), fenced.actions.join(', '));
    assert.ok(existsSync(join(p0.dataDir!, 'standby.signal')));

    const promoted = await d.promote(r1!, T);
    assert.equal(promoted.timeline, 2);
    await d.repoint(r2!, r1!, T);
    await rp.query(r1!, 'INSERT INTO f VALUES (1000)');

    // The old primary comes back (as a crashed server restarted by someone) and must refuse writes.
    await rp.start(p0);
    await assert.rejects(rp.query(p0, 'INSERT INTO f VALUES (5000)'), (e: { code?: string }) => e.code === '25006');
    assert.equal(byName(await d.status([p0], { timeoutMs: 3_000 }), 'p0').role, 'replica');
    assert.ok((await ids(rp, p0, 'f')).has(300), 'the old primary still has its diverged rows before the rewind');

    const { rewound } = await d.rejoin(p0, r1!, T);
    assert.equal(rewound, true, 'the diverged old primary was rewound');
    const lsn = await rp.currentLsn(r1!);
    await d.waitForReplay(p0, lsn, T);
    const onOld = await ids(rp, p0, 'f');
    assert.ok(onOld.has(1000) && onOld.has(200), 'the rejoined node has the new primary\'s rows');
    assert.ok(!onOld.has(201) && !onOld.has(300), 'the rows only the dead primary had were rewound away');
    const all = await d.status(rp.nodes, { timeoutMs: 5_000 });
    assert.equal(byName(all, 'p0').upstream, 'r1');
    assert.equal(byName(all, 'p0').streamState, 'streaming');
    assert.equal(byName(all, 'p0').timeline, 2);
    assert.equal(byName(all, 'r2').upstream, 'r1');
    await d.waitForReplay(r2!, lsn, T);
    const onR2 = await ids(rp, r2!, 'f');
    assert.ok(onR2.has(1000) && onR2.has(200) && !onR2.has(201), 'r2 follows the new primary: r1\'s rows, not the dead primary\'s last ones');

    // A frozen node (SIGSTOP) ignores shutdown requests; the fence still takes it down, and a restart is read-only.
    rp.pause(r2!);
    const frozen = await d.fence(r2!, r1!, { timeoutMs: 3_000 });
    assert.ok(frozen.actions.includes('killed (SIGKILL)'), frozen.actions.join(', '));
    assert.equal(rp.pid(r2!), undefined);
    await rp.start(r2!);
    await assert.rejects(rp.query(r2!, 'INSERT INTO f VALUES (6000)'), (e: { code?: string }) => e.code === '25006');
  });
});
