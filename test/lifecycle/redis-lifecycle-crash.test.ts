import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { archivedRecords, killMidRun, rerun, type CrashScenario } from '../support/lifecycle-crash-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

/**
 * A Redis run killed with SIGKILL in the middle of archive-and-delete batches loses no key: after a rerun, every
 * idle key is in exactly one archive (its DUMP byte for byte) and gone, and every other key is untouched. The state
 * store is on the local PostgreSQL so that this process can watch the ledger while the worker runs.
 */
describe('lifecycle on Redis: SIGKILL in the middle of archive-and-delete', () => {
  let server: ThrowawayRedis;
  let client: Redis;
  let state: TestDatabase;
  let dir: string;

  before(async () => {
    server = await ThrowawayRedis.start({ name: 'lifecycle-crash' });
    client = new Redis({ host: server.host, port: server.port, lazyConnect: true });
    await client.connect();
    state = await createTestDatabase('dk_lc_rstate');
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-rcrash-'));
  });

  after(async () => {
    client?.disconnect();
    await server?.stop();
    await state?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no key and archives none twice over three kills and a rerun', async () => {
    const write = client.pipeline();
    for (let i = 0; i < 4000; i += 1) write.set(`entry:${i}`, `value ${i} ${'x'.repeat(i % 300)} ü`);
    await write.exec();
    // Two thirds idle for a week (RESTORE ... IDLETIME keeps the value); their DUMPs are what the archives must hold.
    const expired = new Map<string, string>();
    const idle = client.pipeline();
    for (let i = 0; i < 4000; i += 1) {
      if (i % 3 === 0) continue;
      const dump = await client.dumpBuffer(`entry:${i}`);
      expired.set(`entry:${i}`, dump.toString('base64'));
      idle.call('RESTORE', `entry:${i}`, '0', dump, 'REPLACE', 'IDLETIME', String(7 * 86_400));
    }
    await idle.exec();
    const kept = new Map<string, Buffer>();
    for (let i = 0; i < 4000; i += 3) kept.set(`entry:${i}`, await client.dumpBuffer(`entry:${i}`));

    const scenario: CrashScenario = {
      config: {
        databases: [{ ...server.config, id: 'cache' }],
        state: { url: state.url },
        logLevel: 'error',
        lifecycle: {
          retention: [{ keyPattern: 'entry:*', idleSeconds: 86_400, action: 'archive', batchSize: 150, pauseMs: 30 }],
          archival: { destination: join(dir, 'archives') },
        },
      },
      stateUrl: state.url,
      passphrase: 'crash-test-passphrase',
      expired: new Set(expired.keys()),
      // EXISTS leaves the keys' idle time alone (GET would not).
      present: async () => {
        const names = [...expired.keys()];
        const found = await client.pipeline(names.map((k) => ['exists', k])).exec();
        return new Set(names.filter((_, i) => found![i]![1] === 1));
      },
      idOf: (record) => (JSON.parse(record) as { key: string }).key,
    };
    await killMidRun(scenario);
    const result = await rerun(scenario);
    assert.equal(result.outcome, 'done', result.error);

    // A key is archived or still here, never both. DUMP counts as an access, so the keys of a batch read by a killed
    // run whose archive never completed look freshly used and wait for another idle period; their values are intact.
    const archived = await archivedRecords(scenario);
    const present = await scenario.present();
    for (const [key, dump] of expired) {
      assert.ok(archived.has(key) !== present.has(key), `${key} is ${archived.has(key) ? 'archived and present' : 'neither archived nor present'}`);
      if (archived.has(key)) assert.equal((JSON.parse(archived.get(key)!) as { dump: string }).dump, dump, `archived value of ${key}`);
      else assert.equal((await client.dumpBuffer(key)).toString('base64'), dump, `value of ${key}`);
    }
    assert.ok(present.size <= 3 * 200, `${present.size} keys were read by killed batches and not archived: at most one batch of about 150 per kill`);
    assert.equal(await client.dbsize(), kept.size + present.size);
    for (const [key, dump] of kept) assert.deepEqual(await client.dumpBuffer(key), dump, `${key} changed`);
  });
});
