import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoCommandMetrics } from '../../src/engines/mongodb/mongo-command-metrics.js';
import { MongoPoolTracker } from '../../src/engines/mongodb/mongo-pool-tracker.js';

describe('MongoCommandMetrics (command monitoring events)', () => {
  it('counts succeeded and failed commands and records their durations', () => {
    const m = new MongoCommandMetrics();
    m.onSucceeded({ commandName: 'find', duration: 2 });
    m.onSucceeded({ commandName: 'getMore', duration: 4 });
    m.onFailed({ commandName: 'insert', duration: 8 });
    m.onSucceeded({ commandName: 'aggregate', duration: 100 });
    const c = m.counters;
    assert.equal(c.queriesTotal, 4);
    assert.equal(c.queriesFailed, 1);
    const latency = c.latency.summary();
    assert.equal(latency.samples, 4);
    assert.equal(latency.p50, 4);
    assert.equal(latency.p99, 100);
  });

  it('leaves out handshakes, probes, session clean-up and transaction control', () => {
    const m = new MongoCommandMetrics();
    for (const commandName of ['hello', 'isMaster', 'ping', 'buildInfo', 'replSetGetStatus', 'endSessions', 'commitTransaction', 'abortTransaction']) {
      m.onSucceeded({ commandName, duration: 1 });
      m.onFailed({ commandName, duration: 1 });
    }
    assert.equal(m.counters.queriesTotal, 0);
    assert.equal(m.counters.queriesFailed, 0);
    assert.equal(m.counters.latency.summary().samples, 0);
  });

  it('counts an unknown command the server rejected as a failed query', () => {
    const m = new MongoCommandMetrics();
    m.onFailed({ commandName: 'DK_NO_SUCH_COMMAND', duration: 0.3 });
    assert.equal(m.counters.queriesTotal, 1);
    assert.equal(m.counters.queriesFailed, 1);
  });

  it('ignores a duration that is not a number instead of poisoning the percentiles', () => {
    const m = new MongoCommandMetrics();
    m.onSucceeded({ commandName: 'find', duration: Number.NaN });
    assert.equal(m.counters.queriesTotal, 1);
    assert.equal(m.counters.latency.summary().samples, 0);
  });
});

describe('MongoPoolTracker (connection pool events)', () => {
  const a = 'db1:27017';
  const b = 'db2:27017';

  it('counts open, checked-out and idle connections', () => {
    const p = new MongoPoolTracker();
    for (const id of [1, 2, 3]) p.connectionCreated({ address: a, connectionId: id });
    p.checkOutStarted({ address: a });
    p.checkedOut({ address: a, connectionId: 1 });
    p.checkOutStarted({ address: a });
    p.checkedOut({ address: a, connectionId: 2 });
    assert.deepEqual(p.snapshot(), { active: 2, idle: 1, waiting: 0, total: 3 });
    p.checkedIn({ address: a, connectionId: 1 });
    assert.deepEqual(p.snapshot(), { active: 1, idle: 2, waiting: 0, total: 3 });
  });

  it('waiting is checkouts started minus checkouts finished (succeeded or failed)', () => {
    const p = new MongoPoolTracker();
    p.checkOutStarted({ address: a });
    p.checkOutStarted({ address: a });
    p.checkOutStarted({ address: a });
    assert.equal(p.snapshot().waiting, 3);
    p.checkOutFailed({ address: a });
    p.connectionCreated({ address: a, connectionId: 7 });
    p.checkedOut({ address: a, connectionId: 7 });
    assert.deepEqual(p.snapshot(), { active: 1, idle: 0, waiting: 1, total: 1 });
  });

  it('a connection closed while checked out drops out of both counts', () => {
    const p = new MongoPoolTracker();
    p.connectionCreated({ address: a, connectionId: 1 });
    p.checkedOut({ address: a, connectionId: 1 });
    p.connectionClosed({ address: a, connectionId: 1 });
    assert.deepEqual(p.snapshot(), { active: 0, idle: 0, waiting: 0, total: 0 });
    // The check-in that may follow a close does not go negative.
    p.checkedIn({ address: a, connectionId: 1 });
    assert.deepEqual(p.snapshot(), { active: 0, idle: 0, waiting: 0, total: 0 });
  });

  it('repeated or unmatched events cannot drive counts negative', () => {
    const p = new MongoPoolTracker();
    p.checkOutFailed({ address: a });
    p.checkedIn({ address: a, connectionId: 9 });
    p.connectionClosed({ address: a, connectionId: 9 });
    p.connectionCreated({ address: a, connectionId: 1 });
    p.connectionCreated({ address: a, connectionId: 1 });
    assert.deepEqual(p.snapshot(), { active: 0, idle: 1, waiting: 0, total: 1 });
  });

  it('sums the pools of every server, and forgets a closed pool', () => {
    const p = new MongoPoolTracker();
    p.connectionCreated({ address: a, connectionId: 1 });
    p.connectionCreated({ address: b, connectionId: 1 });
    p.connectionCreated({ address: b, connectionId: 2 });
    p.checkedOut({ address: b, connectionId: 2 });
    assert.deepEqual(p.snapshot(), { active: 1, idle: 2, waiting: 0, total: 3 });
    p.poolClosed({ address: b });
    assert.deepEqual(p.snapshot(), { active: 0, idle: 1, waiting: 0, total: 1 });
  });
});
