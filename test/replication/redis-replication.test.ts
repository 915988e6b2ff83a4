import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ReplicationError, UsageError } from '../../src/errors/index.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import type { NodeStatus, ReplicationDriver } from '../../src/replication/replication-part.js';
import { silentLogger } from '../../src/util/logger.js';
import { AckWriter, redisNode } from '../support/redis-ack-writer.js';
import { freePort } from '../support/free-port.js';
import { ThrowawayRedis, waitFor } from '../support/throwaway-redis.js';

const driver = getEngine('redis').parts.replication as ReplicationDriver;
const T = { timeoutMs: 10_000 };

describe('redis replication driver (REPLICAOF, INFO replication, FAILOVER)', () => {
  let primary: ThrowawayRedis;
  let replica1: ThrowawayRedis;
  let replica2: ThrowawayRedis;
  const clients: Redis[] = [];
  const node = (s: ThrowawayRedis, name: string) => redisNode(name, s);
  const client = (s: ThrowawayRedis) => {
    const c = new Redis({ host: s.host, port: s.port, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 5000 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };

  before(async () => {
    primary = await ThrowawayRedis.start({ name: 'repl-primary' });
    replica1 = await ThrowawayRedis.start({ name: 'repl-replica1', config: [`replicaof ${primary.host} ${primary.port}`] });
    replica2 = await ThrowawayRedis.start({ name: 'repl-replica2' });
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([primary, replica1, replica2].map((s) => s?.stop()));
  });

  const nodes = () => [node(primary, 'p'), node(replica1, 'r1'), node(replica2, 'r2')];
  const byName = (statuses: NodeStatus[], name: string) => statuses.find((s) => s.name === name)!;

  it('refuses to make a server holding keys a replica, then creates one on an empty server (link up, sync done)', async () => {
    const c2 = client(replica2);
    await c2.set('precious', '1');
    await assert.rejects(driver.createReplica(node(primary, 'p'), node(replica2, 'r2'), { slot: 'unused', timeoutMs: 5000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /holds 1 keys/.test(e.message));
    assert.equal(await c2.get('precious'), '1', 'the refused server kept its data');
    await c2.flushall();
    await client(primary).set('seed', 'x');
    await driver.createReplica(node(primary, 'p'), node(replica2, 'r2'), { slot: 'unused', timeoutMs: 15_000 });
    assert.equal(await c2.get('seed'), 'x');
    await assert.rejects(c2.set('direct', '1'), /READONLY/);
  });

  it('status: roles, positions and upstream; lag 0 when idle, > 0 for a replica paused by SIGSTOP during writes', async () => {
    const p = client(primary);
    for (let i = 0; i < 100; i += 1) await p.set(`idle:${i}`, 'v');
    const { position } = { position: String((await p.info('replication')).match(/master_repl_offset:(\d+)/)![1]) };
    await driver.waitForReplay(node(replica1, 'r1'), position, T);
    await driver.waitForReplay(node(replica2, 'r2'), position, T);
    // Idle: let one acknowledgement round pass so that the master has the replicas' final offsets.
    await waitFor(async () => (await driver.status(nodes(), T)).every((s) => s.role === 'primary' || s.lag?.replayBytes === 0), 5000, 'idle lag 0');
    const idle = await driver.status(nodes(), T);
    console.log('idle status:', JSON.stringify(idle.map((s) => ({ name: s.name, role: s.role, position: s.position ?? s.replayedPosition, lag: s.lag }))));
    assert.equal(byName(idle, 'p').role, 'primary');
    assert.equal(byName(idle, 'p').position, position);
    for (const name of ['r1', 'r2']) {
      const s = byName(idle, name);
      assert.equal(s.role, 'replica');
      assert.equal(s.upstream, 'p');
      assert.equal(s.streamState, 'streaming');
      assert.equal(s.readOnly, true);
      assert.deepEqual(s.lag, { writeBytes: 0, flushBytes: 0, replayBytes: 0, writeSeconds: 0, flushSeconds: 0, replaySeconds: 0 });
    }

    replica1.signal('SIGSTOP');
    try {
      const value = 'x'.repeat(1000);
      const writer = new AckWriter('load', async (k, v) => (await p.set(k, v + value)) === 'OK', 1000);
      await new Promise((r) => setTimeout(r, 2500));
      // The paused replica does not answer: its figures are the primary's view of it.
      const loaded = await driver.status(nodes(), { timeoutMs: 1000 });
      await writer.stop();
      const r1 = byName(loaded, 'r1');
      const r2 = byName(loaded, 'r2');
      console.log(`under load (${writer.acknowledged.length} writes of 1 kB in 2.5 s): paused r1 lag ${r1.lag?.replayBytes} bytes / ${r1.lag?.replaySeconds} s; running r2 lag ${r2.lag?.replayBytes} bytes / ${r2.lag?.replaySeconds} s`);
      assert.equal(r1.reachable, false);
      assert.equal(r1.upstream, 'p');
      assert.ok(r1.lag !== undefined && r1.lag.replayBytes! > 100_000, `paused replica lags by bytes: ${JSON.stringify(r1.lag)}`);
      assert.ok(r1.lag.replaySeconds! >= 1, 'and by seconds since its last acknowledgement');
      assert.ok(r2.lag!.replayBytes! < r1.lag.replayBytes!, 'the running replica keeps up better than the paused one');
    } finally {
      replica1.signal('SIGCONT');
    }
    const end = String((await p.info('replication')).match(/master_repl_offset:(\d+)/)![1]);
    await driver.waitForReplay(node(replica1, 'r1'), end, T);
    await waitFor(async () => byName(await driver.status(nodes(), T), 'r1').lag?.replayBytes === 0, 5000, 'r1 caught up after SIGCONT');
  });

  it('reports an unreachable node instead of throwing; orders and measures offsets; refuses bad offsets', async () => {
    const port = await freePort('127.0.0.1');
    const [gone] = await driver.status([redisNode('gone', { host: '127.0.0.1', port })], { timeoutMs: 1000 });
    assert.equal(gone!.reachable, false);
    assert.equal(gone!.role, 'unknown');
    assert.match(gone!.error ?? '', /gone .*did not answer/);
    assert.equal(driver.comparePositions('99', '100'), -1);
    assert.equal(driver.comparePositions('18446744073709551615', '18446744073709551614'), 1);
    assert.equal(driver.distance('100', '250'), 150);
    assert.equal(driver.distance('250', '100'), 0);
    assert.throws(() => driver.comparePositions('0/3000060', '1'), (e: unknown) => e instanceof UsageError && /not a Redis replication offset/.test(e.message));
  });

  it('configureSync maps sync mode to min-replicas-to-write (writes refused, not lost) and sets it on the replicas too', async () => {
    const p = client(primary);
    const three = await driver.configureSync(node(primary, 'p'), { mode: 'sync', method: 'first', count: 3, standbys: ['r1', 'r2'] }, T);
    assert.deepEqual(three, { mode: 'sync', method: 'any', count: 3, standbys: ['r1', 'r2'] }, 'Redis counts any replica: method any');
    await assert.rejects(p.set('refused', '1'), /NOREPLICAS/);
    assert.equal(await p.get('refused'), null);
    assert.deepEqual(await client(replica1).config('GET', 'min-replicas-to-write'), ['min-replicas-to-write', '3'], 'set on the replica so that it holds after a failover');
    const one = await driver.configureSync(node(primary, 'p'), { mode: 'sync', method: 'any', count: 1, standbys: [] }, T);
    assert.equal(one.count, 1);
    assert.equal(await p.set('accepted', '1'), 'OK');
    assert.equal(await p.wait(2, 2000), 2, 'WAIT: both replicas acknowledged');
    const off = await driver.configureSync(node(primary, 'p'), { mode: 'async', method: 'any', count: 1, standbys: [] }, T);
    assert.equal(off.mode, 'async');
    assert.deepEqual(await client(replica2).config('GET', 'min-replicas-to-write'), ['min-replicas-to-write', '0']);
  });

  it('switchover by FAILOVER with a writer: no acknowledged write lost; the old primary refuses writes', async () => {
    let current = primary;
    let writes = client(primary);
    const writer = new AckWriter('fo', async (k, v) => {
      try {
        return (await writes.set(k, v)) === 'OK';
      } catch (error) {
        // READONLY: the writer finds the new primary as an application would (here by role).
        for (const s of [primary, replica1, replica2]) if ((await s.rawCommand('ROLE')).includes('master')) current = s;
        writes = client(current);
        throw error;
      }
    }, 300);
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    await driver.nativeSwitchover!(node(primary, 'p'), node(replica1, 'r1'), T);
    const switched = Date.now() - started;
    await new Promise((r) => setTimeout(r, 500));
    await writer.stop();
    const r1 = client(replica1);
    const lost = await writer.missing(async (keys) => (await Promise.all(keys.map((k) => r1.exists(k)))).map((n) => n === 1));
    console.log(`FAILOVER switchover: ${switched} ms; ${writer.acknowledged.length} acknowledged writes, ${writer.failures} failed (${writer.lastError}), ${lost.length} lost`);
    assert.equal(current, replica1, 'the writer moved to the target');
    assert.ok(writer.acknowledged.some((a) => a.at > started + switched), 'writes were acknowledged after the switchover');
    assert.deepEqual(lost, []);
    const statuses = await driver.status(nodes(), T);
    assert.equal(byName(statuses, 'r1').role, 'primary');
    assert.equal(byName(statuses, 'p').role, 'replica');
    await assert.rejects(client(primary).set('after', '1'), /READONLY/);
  });

  it('switchover by the manager steps (stop writes, wait for replay, promote, fence, repoint) loses nothing', async () => {
    // r1 is the primary now; switch back to p step by step.
    const writes = client(replica1);
    let target = writes;
    const writer = new AckWriter('steps', async (k, v) => (await target.set(k, v)) === 'OK', 300);
    await new Promise((r) => setTimeout(r, 300));
    const { position } = await driver.stopWrites(node(replica1, 'r1'), T);
    await driver.waitForReplay(node(primary, 'p'), position, T);
    const promoted = await driver.promote(node(primary, 'p'), T);
    assert.ok(driver.comparePositions(promoted.position, position) >= 0);
    target = client(primary);
    const fenced = await driver.fence(node(replica1, 'r1'), node(primary, 'p'), T);
    assert.deepEqual(fenced.actions.slice(0, 1), ['REPLICAOF p']);
    assert.equal(fenced.durable, true, fenced.actions.join('; '));
    await driver.repoint(node(replica2, 'r2'), node(primary, 'p'), T);
    await new Promise((r) => setTimeout(r, 300));
    await writer.stop();
    const p = client(primary);
    const lost = await writer.missing(async (keys) => (await Promise.all(keys.map((k) => p.exists(k)))).map((n) => n === 1));
    console.log(`step switchover: ${writer.acknowledged.length} acknowledged, ${writer.failures} failed (${writer.lastError}), ${lost.length} lost; fence: ${fenced.actions.join('; ')}`);
    assert.deepEqual(lost, []);
    const statuses = await driver.status(nodes(), T);
    assert.deepEqual(statuses.map((s) => [s.name, s.role, s.upstream]), [['p', 'primary', undefined], ['r1', 'replica', 'p'], ['r2', 'replica', 'p']]);
  });

  it('fence on a down node says Sentinel must do it; route refuses a direct-mode adapter', async () => {
    const port = await freePort('127.0.0.1');
    const fenced = await driver.fence(redisNode('down', { host: '127.0.0.1', port }), node(primary, 'p'), { timeoutMs: 1000 });
    assert.equal(fenced.durable, false);
    assert.match(fenced.actions[0]!, /not fenced by datakeep.*Sentinel/);
    // Up, with no new primary to follow: it refuses every write, also after a restart.
    const lone = await ThrowawayRedis.start({ name: 'repl-lone' });
    try {
      const result = await driver.fence(node(lone, 'lone'), undefined, T);
      assert.equal(result.durable, true, result.actions.join('; '));
      await assert.rejects(client(lone).set('x', '1'), /NOREPLICAS/);
      await lone.kill('SIGTERM');
      await lone.restart();
      await assert.rejects(client(lone).set('x', '1'), /NOREPLICAS/, 'still fenced after a restart (CONFIG REWRITE)');
    } finally {
      await lone.stop();
    }
    const adapter = new RedisAdapter(node(primary, 'p').config, { logger: silentLogger });
    await adapter.connect();
    try {
      await assert.rejects(driver.route(adapter, node(primary, 'p'), T), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /configure Sentinel/.test(e.message));
    } finally {
      await adapter.close();
    }
  });
});
