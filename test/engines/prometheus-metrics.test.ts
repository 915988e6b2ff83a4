import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { DataManager } from '../../src/data-manager.js';
import { QueryError } from '../../src/errors/index.js';
import { DB_OPERATION_BUCKETS_SECONDS } from '../../src/metrics/duration-buckets.js';
import { silentLogger } from '../../src/util/logger.js';
import { assertMetricConventions } from '../support/metric-conventions.js';
import { parseExposition, type Family } from '../support/parse-exposition.js';

/** OpenTelemetry semantic conventions, db.client.operation.duration: the advised bucket boundaries in seconds. */
const OTEL_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

describe('Prometheus metrics of a DataManager (PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379)', () => {
  const dm = new DataManager({ logger: silentLogger });
  const table = `dk_metrics_${randomBytes(4).toString('hex')}`;
  let families: Map<string, Family>;
  let text: string;

  before(async () => {
    await dm.initialize([
      { id: 'pg-main', type: 'postgresql', host: '127.0.0.1', port: 5432, database: 'postgres', username: 'postgres' },
      { id: 'cache', type: 'redis', host: '127.0.0.1', port: 6379, database: '0' },
    ]);
    // A first scrape opens what scrapes use (its health probes and its look at pg_prepared_xacts run side by side on
    // two connections), so that the pool the measured scrape reports is the one getMetrics() reads afterwards.
    await dm.monitoring.metricsText();
    for (let i = 0; i < 5; i += 1) await dm.query('SELECT ?::int AS n', [i]);
    await assert.rejects(dm.query(`SELECT * FROM ${table}`), QueryError);
    await dm.transaction(async (tx) => tx.query('SELECT 1'));
    await assert.rejects(dm.transaction(async () => Promise.reject(new Error('changed my mind'))), /changed my mind/);
    for (let i = 0; i < 8; i += 1) await dm.queryDatabase('cache', 'PING');
    await assert.rejects(dm.queryDatabase('cache', ['NO_SUCH_COMMAND']), QueryError);
    text = await dm.monitoring.metricsText();
    families = parseExposition(text);
  });
  after(() => dm.close());

  const samples = (family: string, where: Record<string, string>) =>
    families.get(family)!.samples.filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v));
  const value = (family: string, where: Record<string, string>, name = family) => {
    const found = samples(family, where).filter((s) => s.name === name);
    assert.equal(found.length, 1, `${name} ${JSON.stringify(where)}: ${found.length} samples`);
    return found[0]!.value;
  };

  it('parses, and every name follows the conventions (test/support/metric-conventions.ts): prefixes per area, base units, _total on counters only, no ms', () => {
    assert.ok(families.size >= 8, [...families.keys()].join(', '));
    assertMetricConventions(families);
    assert.equal(families.get('datakeep_db_client_operation_duration_seconds')?.type, 'histogram');
    assert.equal(families.get('datakeep_db_client_errors_total')?.type, 'counter');
    assert.equal(families.get('datakeep_db_client_connections')?.type, 'gauge');
    assert.equal(families.get('datakeep_database_up')?.type, 'gauge');
  });

  it('datakeep_database_up is 1 for each database that answers its probe', () => {
    assert.equal(value('datakeep_database_up', { database_id: 'pg-main', engine: 'postgresql' }), 1);
    assert.equal(value('datakeep_database_up', { database_id: 'cache', engine: 'redis' }), 1);
  });

  it('never puts statement text or keys in labels', () => {
    assert.doesNotMatch(text, /SELECT|dk_metrics_|NO_SUCH_COMMAND|PING/);
  });

  it('the duration histogram has OpenTelemetry buckets, cumulative, with +Inf equal to _count, per database', () => {
    assert.deepEqual([...DB_OPERATION_BUCKETS_SECONDS], OTEL_BUCKETS);
    const name = 'datakeep_db_client_operation_duration_seconds';
    for (const [id, engine] of [['pg-main', 'postgresql'], ['cache', 'redis']] as const) {
      const buckets = samples(name, { database_id: id }).filter((s) => s.name === `${name}_bucket`);
      assert.deepEqual(buckets.map((b) => b.labels.le), [...OTEL_BUCKETS.map(String), '+Inf']);
      for (let i = 1; i < buckets.length; i += 1) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${id}: buckets must be cumulative`);
      const count = value(name, { database_id: id, engine }, `${name}_count`);
      assert.equal(buckets.at(-1)!.value, count);
      assert.ok(value(name, { database_id: id }, `${name}_sum`) > 0);
    }
  });

  it('getMetrics() reads the same instruments: totals, failures by code, transactions, connections, circuit', async () => {
    const metrics = await dm.getMetrics();
    const pg = metrics.get('pg-main')!;
    const cache = metrics.get('cache')!;
    const histogram = 'datakeep_db_client_operation_duration_seconds';
    // The scrape read the histogram before its own look at pg_prepared_xacts (for datakeep_transactions_in_doubt) ran.
    assert.equal(value(histogram, { database_id: 'pg-main' }, `${histogram}_count`), pg.queries.total - 1);
    assert.equal(value(histogram, { database_id: 'cache' }, `${histogram}_count`), cache.queries.total);
    // 5 queries, 1 failed, 1 in the transaction (BEGIN/COMMIT are not the caller's statements), and each scrape's own
    // look at pg_prepared_xacts (datakeep_transactions_in_doubt), two scrapes; 8 PINGs, 1 failed.
    assert.deepEqual([pg.queries.total, cache.queries.total], [9, 9]);
    assert.equal(value('datakeep_db_client_errors_total', { database_id: 'pg-main', code: 'DK_QUERY' }), pg.queries.failed);
    assert.equal(pg.queries.failed, 1);
    assert.equal(value('datakeep_db_client_errors_total', { database_id: 'cache', code: 'DK_QUERY' }), 1);
    assert.equal(value('datakeep_db_client_transactions_total', { database_id: 'pg-main', outcome: 'committed' }), pg.transactions.committed);
    assert.equal(value('datakeep_db_client_transactions_total', { database_id: 'pg-main', outcome: 'rolled_back' }), pg.transactions.rolledBack);
    assert.deepEqual([pg.transactions.committed, pg.transactions.rolledBack], [1, 1]);
    assert.equal(value('datakeep_db_client_transaction_retries_total', { database_id: 'pg-main' }), 0);
    // The scrape's own probes run while it collects, so a connection can be "used" in the scrape and idle by now:
    // the pool's size is what both must agree on.
    const scraped = value('datakeep_db_client_connections', { database_id: 'pg-main', state: 'idle' }) + value('datakeep_db_client_connections', { database_id: 'pg-main', state: 'used' });
    assert.equal(scraped, pg.connections.idle + pg.connections.active);
    assert.equal(value('datakeep_db_client_connections', { database_id: 'pg-main', state: 'waiting' }), 0);
    assert.equal(value('datakeep_db_client_connections_max', { database_id: 'pg-main' }), pg.connections.max);
    assert.equal(value('datakeep_db_client_connect_failures_total', { database_id: 'pg-main' }), 0);
    assert.equal(value('datakeep_db_client_circuit_state', { database_id: 'pg-main', state: 'closed' }), 1);
    assert.equal(value('datakeep_db_client_circuit_state', { database_id: 'pg-main', state: 'open' }), 0);
    assert.equal(value('datakeep_db_client_circuit_opened_total', { database_id: 'cache' }), 0);
    assert.equal(pg.queries.latency.samples, 9);
    assert.ok(pg.queries.latency.p50 > 0, 'p50 of the latency window');
  });

  it('each DataManager has a registry of its own, and nothing goes to prom-client\'s global registry', async () => {
    const other = new DataManager({ logger: silentLogger });
    try {
      assert.notEqual(other.monitoring.registry(), dm.monitoring.registry());
      assert.doesNotMatch(await other.monitoring.metricsText(), /pg-main/);
      assert.match(other.monitoring.metricsContentType, /^text\/plain; version=0\.0\.4/);
      assert.doesNotMatch(await globalRegistry.metrics(), /datakeep_/);
    } finally {
      await other.close();
    }
  });
});
