import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataManager, UsageError } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

// The slowest-statements view (dm.monitoring.statements) against a server that loads pg_stat_statements, one
// that does not (the machine's own PostgreSQL), and Redis, which keeps no statement statistics.
describe('slowest statements', () => {
  let cluster: ThrowawayPostgres;
  let plain: TestDatabase;
  const dm = new DataManager();

  before(async () => {
    cluster = await ThrowawayPostgres.start({ name: 'stmts', config: ['shared_preload_libraries = pg_stat_statements', 'pg_stat_statements.track = all'] });
    await cluster.query('CREATE EXTENSION pg_stat_statements');
    plain = await createTestDatabase('dk_stmts');
    await dm.initialize([{ ...cluster.config, id: 'tracked' }, { ...plain.config, id: 'plain' }, { type: 'redis', host: '127.0.0.1', port: 6379, id: 'cache' }]);
  });
  after(async () => {
    await dm.close();
    await plain?.drop();
    await cluster?.destroy();
  });

  it('lists the statements of this database by total time, with calls, mean and total', async () => {
    await dm.queryDatabase('tracked', 'SELECT pg_stat_statements_reset()');
    for (let i = 0; i < 3; i++) await dm.queryDatabase('tracked', 'SELECT pg_sleep(0.03), ?::int AS n', [i]);
    for (let i = 0; i < 5; i++) await dm.queryDatabase('tracked', 'SELECT ?::int + 1 AS quick', [i]);
    // Run in another database of the same server: the view holds it, the answer must not.
    await cluster.query('SELECT 42 AS elsewhere', [], 'template1');

    const answer = await dm.monitoring.statements('tracked', 50);
    assert.equal(answer.available, true, JSON.stringify(answer));
    if (!answer.available) return;
    assert.equal(answer.source, 'pg_stat_statements');
    const sleep = answer.statements.find((s) => s.query.includes('pg_sleep'));
    assert.ok(sleep, `pg_sleep statement missing from ${answer.statements.map((s) => s.query).join(' | ')}`);
    assert.equal(sleep.calls, 3);
    assert.ok(sleep.meanMs >= 30, `mean ${sleep.meanMs} ms for a 30 ms sleep`);
    assert.ok(Math.abs(sleep.totalMs - sleep.meanMs * 3) < 0.1, `total ${sleep.totalMs} is not 3 × mean ${sleep.meanMs}`);
    // The parameter values never appear: the texts are normalised.
    assert.match(sleep.query, /\$\d/);
    assert.equal(answer.statements[0]!.query, sleep.query, 'the slowest statement comes first');
    const quick = answer.statements.find((s) => s.query.includes('quick'));
    assert.equal(quick?.calls, 5);
    assert.ok(!answer.statements.some((s) => s.query.includes('elsewhere')), 'a statement of another database was listed');
    const percent = answer.statements.reduce((sum, s) => sum + s.percentOfTotal, 0);
    assert.ok(percent > 99 && percent < 101, `percentages sum to ${percent}`);

    const top = await dm.monitoring.statements('tracked', 1);
    assert.equal(top.available && top.statements.length, 1);
  });

  it('says why there are no statistics where the extension is missing, and on an engine without them', async () => {
    const plainAnswer = await dm.monitoring.statements('plain');
    assert.equal(plainAnswer.available, false);
    assert.match(!plainAnswer.available ? plainAnswer.reason : '', /not installed in this database.*shared_preload_libraries.*CREATE EXTENSION/);
    const redis = await dm.monitoring.statements('cache');
    assert.deepEqual(redis, { available: false, reason: 'redis keeps no statement statistics that datakeep reads' });
  });

  it('refuses a bad limit, naming it', async () => {
    await assert.rejects(dm.monitoring.statements('tracked', 0), (e: unknown) => e instanceof UsageError && /^limit: must be a whole number from 1 to 500, got 0/.test(e.message));
  });
});
