import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { MongoClient, type Document } from 'mongodb';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { ReplicationError } from '../../src/errors/index.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { MongodbAdapter } from '../../src/engines/mongodb/mongodb-adapter.js';
import { splitMemberName, sameMember } from '../../src/engines/mongodb/replication/member-name.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';
import { silentLogger } from '../../src/util/logger.js';

/**
 * The MongoDB replication part against a real replica set given by MONGODB_URL (a replica-set URL with a user that
 * has clusterManager): status and lag, positions, waitForReplay, configureSync, fence and rejoin on a secondary,
 * route, and a switchover to a chosen secondary under writes. The switchover moves the primary and raises the
 * target's priority: point MONGODB_URL at a throwaway set. Nothing here runs without one, and nothing imitates one.
 */
const url = process.env.MONGODB_URL;
const NEEDS = 'needs a MongoDB replica set: set MONGODB_URL to a replica set\'s mongodb:// URL (no MongoDB server runs on this machine)';
const driver = getEngine('mongodb').parts.replication!;

if (!url) {
  it('MongoDB replication against a replica set (MONGODB_URL)', { skip: NEEDS }, () => {});
} else describe('MongoDB replication against MONGODB_URL', () => {
  const database = `dk_repl_${randomBytes(5).toString('hex')}`;
  let raw: MongoClient;
  let hello: Document;
  let nodes: ReplicationNode[] = [];
  const config = resolveDatabaseConfig({ url: url!, database, id: 'mongo-repl-it' }, 'test');

  before(async () => {
    raw = new MongoClient(url!, { serverSelectionTimeoutMS: 10_000 });
    await raw.connect();
    hello = await raw.db('admin').command({ hello: 1 });
    const hosts: string[] = [...(hello.hosts ?? []), ...(hello.passives ?? [])];
    nodes = hosts.map((name, i) => ({ name, ...splitMemberName(name), region: undefined, dataDir: undefined, sync: true, priority: i, config }));
  });

  after(async () => {
    if (raw) {
      await raw.db(database).dropDatabase().catch(() => undefined);
      await raw.close();
    }
  });

  const replicaSet = (t: TestContext): boolean => {
    if (hello.setName) return true;
    t.skip(`${NEEDS}; MONGODB_URL points to a ${hello.msg === 'isdbgrid' ? 'mongos' : 'standalone mongod'}`);
    return false;
  };
  const currentPrimary = async (): Promise<ReplicationNode> => {
    const name = String((await raw.db('admin').command({ hello: 1 })).primary);
    return nodes.find((n) => sameMember(n.name, name))!;
  };

  it('reports one primary, the term as timeline, and finite lag for every secondary', async (t) => {
    if (!replicaSet(t)) return;
    const statuses = await driver.status(nodes, { timeoutMs: 10_000 });
    const term = Number((await raw.db('admin').command({ replSetGetStatus: 1 })).term);
    const primaries = statuses.filter((s) => s.role === 'primary');
    assert.equal(primaries.length, 1, JSON.stringify(statuses));
    assert.ok(sameMember(primaries[0]!.name, String(hello.primary)) || primaries[0]!.timeline! >= term);
    for (const s of statuses.filter((x) => x.role === 'replica')) {
      assert.equal(s.reachable, true);
      assert.ok(Number.isFinite(s.lag?.replaySeconds) && s.lag!.replaySeconds! >= 0, `${s.name}: ${JSON.stringify(s.lag)}`);
      // Probed in parallel with the primary: never more than a second past what the primary reported.
      assert.ok(driver.distance(primaries[0]!.position!, s.replayedPosition!) <= 1);
    }
  });

  it('waits until every secondary has applied a majority-acknowledged write', async (t) => {
    if (!replicaSet(t)) return;
    await raw.db(database).collection('w').insertOne({ at: new Date() }, { writeConcern: { w: 'majority' } });
    const primary = (await driver.status(nodes, { timeoutMs: 10_000 })).find((s) => s.role === 'primary')!;
    for (const replica of (await driver.status(nodes, { timeoutMs: 10_000 })).filter((s) => s.role === 'replica')) {
      await driver.waitForReplay(nodes.find((n) => n.name === replica.name)!, primary.position!, { timeoutMs: 20_000 });
    }
  });

  it('sets sync mode as the default write concern "majority" and reads it back', async (t) => {
    if (!replicaSet(t)) return;
    const before = await raw.db('admin').command({ getDefaultRWConcern: 1 });
    const applied = await driver.configureSync(await currentPrimary(), { mode: 'sync', method: 'any', count: 1, standbys: [] }, { timeoutMs: 10_000 });
    assert.equal(applied.mode, 'sync');
    assert.equal((await raw.db('admin').command({ getDefaultRWConcern: 1 })).defaultWriteConcern?.w, 'majority');
    if (before.defaultWriteConcern?.w !== undefined) await raw.db('admin').command({ setDefaultRWConcern: 1, defaultWriteConcern: before.defaultWriteConcern });
  });

  it('fences a secondary with replSetFreeze and lifts it on rejoin', async (t) => {
    if (!replicaSet(t)) return;
    const secondary = (await driver.status(nodes, { timeoutMs: 10_000 })).find((s) => s.role === 'replica');
    if (!secondary) return t.skip('the set has no secondary');
    const target = nodes.find((n) => n.name === secondary.name)!;
    const fenced = await driver.fence(target, await currentPrimary(), { timeoutMs: 10_000 });
    assert.match(fenced.actions.join('; '), /replSetFreeze/);
    assert.deepEqual(await driver.rejoin(target, await currentPrimary(), { timeoutMs: 10_000 }), { rewound: false });
  });

  it('routes nothing for a replica-set adapter and refuses one that cannot follow the primary', async (t) => {
    if (!replicaSet(t)) return;
    const follows = new MongodbAdapter(config, { logger: silentLogger });
    // The same credentials against one host with directConnection: the driver then never looks for another member.
    const query = new URLSearchParams(url!.split('?')[1] ?? '');
    const authSource = query.get('authSource') ?? (/^[^/]*\/\/[^/]*\/([^?]+)/.exec(url!)?.[1] || 'admin');
    const pinnedConfig = { type: 'mongodb', host: nodes[0]!.host, port: nodes[0]!.port, database, username: config.username, password: config.password, options: { directConnection: true, ...(config.username ? { authSource } : {}) } };
    const pinned = new MongodbAdapter(resolveDatabaseConfig(pinnedConfig, 'test'), { logger: silentLogger });
    try {
      await follows.connect();
      await pinned.connect();
      await driver.route(follows, nodes[0]!, { timeoutMs: 5000 });
      await assert.rejects(driver.route(pinned, nodes[0]!, { timeoutMs: 5000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /replicaSet=/.test(e.message));
    } finally {
      await follows.close();
      await pinned.close();
    }
  });

  it('refuses a switchover asked of a secondary', async (t) => {
    if (!replicaSet(t)) return;
    const secondary = (await driver.status(nodes, { timeoutMs: 10_000 })).find((s) => s.role === 'replica');
    if (!secondary) return t.skip('the set has no secondary');
    await assert.rejects(driver.nativeSwitchover!(nodes.find((n) => n.name === secondary.name)!, undefined, { timeoutMs: 10_000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'not-a-primary');
  });

  it('switches over to a chosen secondary without losing a majority-acknowledged write, and the adapter follows', async (t) => {
    if (!replicaSet(t)) return;
    const conf = (await raw.db('admin').command({ replSetGetConfig: 1 })).config as Document;
    const electable = (conf.members as Document[]).filter((m) => !m.arbiterOnly && !m.hidden && Number(m.priority) > 0 && !sameMember(m.host, String(hello.primary)));
    if (electable.length === 0) return t.skip('the set has no electable secondary to switch over to');
    const target = nodes.find((n) => sameMember(n.name, String(electable[0]!.host)))!;
    const adapter = new MongodbAdapter(config, { logger: silentLogger });
    await adapter.connect();
    const acknowledged: number[] = [];
    let stop = false;
    const writer = (async () => {
      for (let id = 0; !stop; id++) {
        try {
          await raw.db(database).collection('switchover').insertOne({ _id: id as never }, { writeConcern: { w: 'majority' } });
          acknowledged.push(id);
        } catch {
          // No primary for a moment: the write failed and was not acknowledged.
        }
      }
    })();
    try {
      await driver.nativeSwitchover!(await currentPrimary(), target, { timeoutMs: 60_000 });
      stop = true;
      await writer;
      const now = await raw.db('admin').command({ hello: 1 });
      assert.ok(sameMember(String(now.primary), target.name) || (await currentPrimary()) === target, `primary is ${String(now.primary)}`);
      const stored = await raw.db(database).collection('switchover').countDocuments({ _id: { $in: acknowledged as never[] } });
      assert.equal(stored, acknowledged.length, 'every acknowledged write survived the switchover');
      await adapter.command({ insert: 'after', documents: [{ ok: 1 }] });
      await driver.route(adapter, target, { timeoutMs: 5000 });
    } finally {
      stop = true;
      await writer;
      await adapter.close();
    }
  });
});
