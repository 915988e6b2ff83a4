import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { Redis } from 'ioredis';
import { ConfigurationError, DataLifecycleError, DataManager } from '../../src/index.js';
import { resolveLifecycleConfig } from '../../src/config/lifecycle-config.js';
import { redisLifecycle } from '../../src/engines/redis/lifecycle/redis-lifecycle.js';
import { matchRedisPattern } from '../../src/engines/redis/lifecycle/match-redis-pattern.js';
import { bindPolicy } from '../../src/lifecycle/run-lifecycle-policy.js';
import { ThrowawayRedis, waitFor } from '../support/throwaway-redis.js';

const DAY = 86_400;

/** Makes `key` look idle for `seconds` (RESTORE ... IDLETIME keeps its value and expiry); returns its DUMP. */
async function age(client: Redis, key: string | Buffer, seconds: number): Promise<Buffer> {
  const dump = await client.dumpBuffer(key);
  const ttl = await client.pttl(key);
  await client.call('RESTORE', key, String(Math.max(0, ttl)), dump, 'REPLACE', 'IDLETIME', String(seconds));
  return dump;
}

/** Every key of the db (SCAN: touches nothing). */
async function keys(client: Redis): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, page] = await client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    out.push(...page);
  } while (cursor !== '0');
  return out.sort();
}

describe('data lifecycle on Redis', () => {
  let server: ThrowawayRedis;
  let client: Redis;
  let dir: string;
  let dm: DataManager;
  let stateDb: TestDatabase;
  const passphrase = process.env.DATAKEEP_REPO_PASSPHRASE;

  before(async () => {
    process.env.DATAKEEP_REPO_PASSPHRASE = 'lifecycle-test-passphrase';
    server = await ThrowawayRedis.start({ name: 'lifecycle' });
    client = new Redis({ host: server.host, port: server.port, lazyConnect: true });
    await client.connect();
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-redis-'));
    // The state store on the local PostgreSQL: the embedded one costs seconds of CPU to open.
    stateDb = await createTestDatabase('dk_lc_state');
    dm = new DataManager({
      config: {
        databases: [{ ...server.config, id: 'cache' }, { ...server.config, id: 'cache1', database: '1' }],
        state: { url: stateDb.url },
        logLevel: 'error',
      },
    });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close();
    await stateDb?.drop();
    client?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (passphrase === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE;
    else process.env.DATAKEEP_REPO_PASSPHRASE = passphrase;
  });

  it('runs a seed-shaped config: idle sessions deleted, idle orders without expiry archived, and the archive restores exactly', async () => {
    await client.flushall();
    // Sessions: 400, half idle for two days; orders of every type, binary names and values, some with an expiry.
    const write = client.pipeline();
    for (let i = 0; i < 400; i += 1) write.hset(`session:${i}`, 'user', String(i), 'seen', 'x'.repeat(i % 50));
    for (let i = 0; i < 300; i += 1) {
      const key = `order:${i}`;
      if (i % 6 === 0) write.set(key, Buffer.from([0, 255, i % 256, 10, 13]));
      else if (i % 6 === 1) write.rpush(key, 'a', `b${i}`, 'ünï 😀');
      else if (i % 6 === 2) write.sadd(key, '1', '2', String(i));
      else if (i % 6 === 3) write.zadd(key, 1.5, 'x', '9007199254740993', 'y');
      else if (i % 6 === 4) write.xadd(key, '1-1', 'f', String(i));
      else write.set(key, 'x'.repeat(5000 + i));
      if (i % 5 === 0) write.pexpire(key, 86_400_000 + i);
    }
    for (let i = 0; i < 50; i += 1) write.set(`user:${i}`, String(i));
    await write.exec();
    const binaryKey = Buffer.from([0x6f, 0x72, 0x64, 0x65, 0x72, 0x3a, 0xff, 0xfe]);
    await client.set(binaryKey, Buffer.from([1, 2, 3]));
    for (let i = 0; i < 400; i += 2) await age(client, `session:${i}`, 2 * DAY);
    const expectedDumps = new Map<string, Buffer>();
    for (let i = 0; i < 300; i += 1) {
      const dump = await age(client, `order:${i}`, 3 * DAY);
      if (i % 5 !== 0) expectedDumps.set(`order:${i}`, dump);
    }
    expectedDumps.set(binaryKey.toString('base64'), await age(client, binaryKey, 3 * DAY));
    const before = await keys(client);

    await dm.setupLifecycleManagement({
      retention: [{ keyPattern: 'session:*', idleSeconds: DAY, action: 'delete', database: 'cache' }],
      archival: { enabled: true, destination: join(dir, 'archives'), rules: [{ keyPattern: 'order:*', idleSeconds: 3600, where: { ttl: 'none' }, priority: 1, batchSize: 100, database: 'cache' }] },
      cleanup: { enabled: true, schedule: '0 3 * * 0', batchSize: 1000 },
    });
    const plan = await dm.lifecycle.plan();
    assert.equal(plan.find((p) => p.policy === 'retention:session:*')!.rows, 200);
    assert.equal(plan.find((p) => p.policy === 'archival:order:*')!.rows, 241);
    assert.equal(plan.find((p) => p.policy === 'archival:order:*')!.total, before.length);

    const results = await dm.lifecycle.run();
    const archival = results.find((r) => r.policy === 'archival:order:*')!;
    const retention = results.find((r) => r.policy === 'retention:session:*')!;
    assert.equal(archival.outcome, 'done', archival.error);
    assert.equal(retention.outcome, 'done', retention.error);
    assert.equal(retention.rowsDeleted, 200);
    assert.equal(archival.rowsArchived, 241);
    assert.equal(archival.rowsDeleted, 241);
    const left = await keys(client);
    assert.deepEqual(left, before.filter((k) => !(k.startsWith('session:') && Number(k.slice(8)) % 2 === 0) && !(k.startsWith('order:') && (expectedDumps.has(k) || k === binaryKey.toString('utf8')))));
    assert.equal(left.filter((k) => k.startsWith('order:')).length, 60, 'orders with an expiry stay');

    // The archives hold every value byte for byte; restoring brings the keys back as they were.
    const archives = await dm.lifecycle.archives.list();
    const archived = new Map<string, { ttl: number; dump: string }>();
    for (const archive of archives) {
      for (const record of (await dm.lifecycle.archives.show(archive.archiveId, { limit: 1000 })).sample) {
        const r = JSON.parse(record) as { key?: string; keyBase64?: string; ttl: number; dump: string };
        archived.set(r.key ?? r.keyBase64!, r);
      }
    }
    assert.deepEqual([...archived.keys()].sort(), [...expectedDumps.keys()].sort());
    for (const [key, dump] of expectedDumps) assert.equal(archived.get(key)!.dump, dump.toString('base64'), `archived value of ${key}`);
    assert.ok([...archived.values()].every((r) => r.ttl === -1));

    for (const archive of archives) await dm.lifecycle.archives.restore(archive.archiveId);
    for (const [key, dump] of expectedDumps) {
      const name = key.startsWith('order:') ? key : Buffer.from(key, 'base64');
      assert.deepEqual(await client.dumpBuffer(name), dump, `restored value of ${key}`);
      assert.equal(await client.pttl(name), -1);
    }
    assert.deepEqual(await keys(client), before.filter((k) => !(k.startsWith('session:') && Number(k.slice(8)) % 2 === 0)));

    // Into another database too; a second restore of the same archive conflicts (BUSYKEY) and writes nothing.
    await dm.lifecycle.archives.restore(archives[0]!.archiveId, { database: 'cache1' });
    await client.select(1);
    assert.equal(await client.dbsize(), archives[0]!.rows);
    await client.del((await keys(client))[0]!);
    const conflict = await dm.lifecycle.archives.restore(archives[0]!.archiveId, { database: 'cache1' }).catch((e: unknown) => e);
    assert.ok(conflict instanceof DataLifecycleError && conflict.reason === 'restore-conflict', String(conflict));
    assert.equal(await client.dbsize(), archives[0]!.rows - 1, 'a refused restore writes no key');
    const outside = await dm.lifecycle.archives.restore(archives[0]!.archiveId, { database: 'cache1', into: 'other:*' }).catch((e: unknown) => e);
    assert.ok(outside instanceof DataLifecycleError && outside.reason === 'unknown-target', String(outside));
    await client.flushdb();
    await client.select(0);
  });

  it('refuses bad policies before anything runs, naming the field', async () => {
    await client.flushall();
    await client.set('k:1', 'v');
    const bad = async (config: Parameters<DataManager['setupLifecycleManagement']>[0]) => dm.setupLifecycleManagement(config).then(() => undefined, (e: unknown) => e);
    const reason = (e: unknown) => (e instanceof DataLifecycleError ? e.reason : String(e));

    const noAge = await bad({ retention: [{ keyPattern: 'k:*', retentionDays: 5, database: 'cache' }] });
    assert.equal(reason(noAge), 'unknown-column');
    assert.match((noAge as Error).message, /idleSeconds/);
    for (const where of ['not json', '[1]', '{"ttl": "forever"}', '{"type": "blob"}', '{"size": 3}']) {
      assert.equal(reason(await bad({ retention: [{ keyPattern: 'k:*', where, database: 'cache' }] })), 'bad-condition', where);
    }
    const zero = await bad({ retention: [{ keyPattern: 'k:*', retentionDays: 0, database: 'cache' }] });
    assert.ok(zero instanceof ConfigurationError && zero.field.endsWith('retention[0].retentionDays'), String(zero));
    const idleOnTable = await bad({ retention: [{ table: 't', idleSeconds: 5 }] });
    assert.ok(idleOnTable instanceof ConfigurationError && idleOnTable.field.endsWith('retention[0].idleSeconds'), String(idleOnTable));
    await client.config('SET', 'maxmemory-policy', 'allkeys-lfu');
    try {
      assert.equal(reason(await bad({ retention: [{ keyPattern: 'k:*', idleSeconds: 60, database: 'cache' }] })), 'bad-condition');
    } finally {
      await client.config('SET', 'maxmemory-policy', 'noeviction');
    }
    assert.equal(await client.get('k:1'), 'v');
  });

  it('refuses a policy that would remove every key of the db unless allowAll, then removes them in batches', async () => {
    await client.flushall();
    const write = client.pipeline();
    for (let i = 0; i < 500; i += 1) write.set(`tmp:${i}`, String(i), 'PX', 3_600_000);
    await write.exec();
    await dm.setupLifecycleManagement({ retention: [{ keyPattern: 'tmp:*', where: { ttl: 'set' }, database: 'cache' }] });
    const [plan] = await dm.lifecycle.plan();
    assert.match(plan!.refusal ?? '', /allowAll/);
    await assert.rejects(dm.lifecycle.run(), (e: unknown) => e instanceof DataLifecycleError && e.reason === 'would-remove-all');
    assert.equal(await client.dbsize(), 500);
    await dm.setupLifecycleManagement({ retention: [{ keyPattern: 'tmp:*', where: { ttl: 'set' }, allowAll: true, batchSize: 100, pauseMs: 0, database: 'cache' }] });
    const [result] = await dm.lifecycle.run();
    assert.equal(result!.outcome, 'done', result!.error);
    assert.equal(result!.rowsDeleted, 500);
    assert.ok(result!.batches >= 4 && result!.batches <= 7, `${result!.batches} batches of about 100`);
    assert.equal(await client.dbsize(), 0);
  });

  it('removes only keys still as archived (exact), rechecks conditions on delete, and reports replica lag', async () => {
    await client.flushall();
    for (let i = 0; i < 10; i += 1) await client.set(`doc:${i}`, `v${i}`);
    for (let i = 0; i < 10; i += 1) await age(client, `doc:${i}`, 7200);
    await client.set('other', 'x');
    const adapter = dm.database('cache');
    const [policy] = resolveLifecycleConfig({ retention: [{ keyPattern: 'doc:*', idleSeconds: 3600, action: 'archive' }], archival: { destination: dir } }).policies;
    const bound = bindPolicy(policy!, new Date());
    const inspection = await redisLifecycle.inspect(adapter, bound);
    assert.equal((await redisLifecycle.count(adapter, bound, inspection)).rows, 10);
    const batch = await redisLifecycle.nextBatch(adapter, bound, inspection, undefined, 100);
    assert.equal(batch.rows.length, 10);
    assert.deepEqual(batch.next, ['0']);
    assert.deepEqual(await redisLifecycle.nextBatch(adapter, bound, inspection, batch.next, 100), { rows: [], next: ['0'] });

    await client.set('doc:3', 'changed');
    await client.pexpire('doc:4', 60_000);
    const removed = await redisLifecycle.remove(adapter, bound, inspection, batch.rows, { lockTimeoutMs: 1000, exact: true });
    assert.equal(removed.removed, 9, 'doc:3 changed and stays; doc:4 only got an expiry, its value is the archived one');
    assert.deepEqual(await keys(client), ['doc:3', 'other']);

    // A delete-only policy rechecks its conditions at the delete: a key used since it was found stays.
    for (let i = 0; i < 5; i += 1) await client.set(`doc:${i}`, 'v');
    for (let i = 0; i < 5; i += 1) await age(client, `doc:${i}`, 7200);
    const [deleting] = resolveLifecycleConfig({ retention: [{ keyPattern: 'doc:*', idleSeconds: 3600 }] }).policies;
    const boundDelete = bindPolicy(deleting!, new Date());
    const found = await redisLifecycle.nextBatch(adapter, boundDelete, inspection, undefined, 100);
    assert.equal(found.rows.length, 5);
    assert.ok(found.rows.every((r) => !('dump' in JSON.parse(r.record))), 'delete-only records carry no value');
    assert.equal(await client.get('doc:2'), 'v');
    assert.equal((await redisLifecycle.remove(adapter, boundDelete, inspection, found.rows, { lockTimeoutMs: 1000, exact: false })).removed, 4);
    assert.deepEqual(await keys(client), ['doc:2', 'other']);

    assert.deepEqual(await redisLifecycle.pressure!(adapter), { replicaLagSeconds: undefined });
    const replica = await ThrowawayRedis.start({ name: 'lifecycle-replica', config: [`replicaof ${server.host} ${server.port}`] });
    try {
      await waitFor(async () => (await client.info('replication')).includes('state=online'), 15_000, 'the replica to come online');
      const { replicaLagSeconds } = await redisLifecycle.pressure!(adapter);
      assert.ok(typeof replicaLagSeconds === 'number' && replicaLagSeconds >= 0 && replicaLagSeconds < 5, String(replicaLagSeconds));
    } finally {
      await replica.stop();
    }
  });

  it('matches key patterns as Redis does', () => {
    const cases: [string, string, boolean][] = [
      ['session:*', 'session:1', true], ['session:*', 'sessions:1', false], ['h?llo', 'hallo', true], ['h?llo', 'hllo', false],
      ['h[ae]llo', 'hello', true], ['h[^e]llo', 'hello', false], ['h[a-b]llo', 'hbllo', true], ['h\\*', 'h*', true], ['h\\*', 'hx', false],
      ['*', '', true], ['a*b*c', 'axxbyyc', true], ['a*b*c', 'axxbyy', false], ['[z-a]', 'm', true],
    ];
    for (const [pattern, key, expected] of cases) assert.equal(matchRedisPattern(pattern, key), expected, `${pattern} ~ ${key}`);
    assert.equal(matchRedisPattern('order:?\xfe', Buffer.from([0x6f, 0x72, 0x64, 0x65, 0x72, 0x3a, 0xff, 0xc3, 0xbe])), true, 'bytes, not characters');
  });
});
