import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { probeHealth, type HealthContext } from '../../src/adapters/adapter-health.js';
import type { AdapterHooks } from '../../src/adapters/adapter-hooks.js';
import { CircuitOpenError, ConnectionError, LifecycleError, QueryError, TimeoutError } from '../../src/errors/index.js';
import { DurationBuckets } from '../../src/metrics/duration-buckets.js';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker.js';
import { ConnectRetry, isRetriableConnectFailure } from '../../src/resilience/connect-retry.js';
import { withTimeout } from '../../src/resilience/with-timeout.js';

const refused = () => new ConnectionError('db', 'connect ECONNREFUSED', { retriable: true });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('CircuitBreaker (on cockatiel)', () => {
  it('opens after the threshold, refuses with CircuitOpenError and its fields, probes once after resetTimeout', async () => {
    const breaker = new CircuitBreaker('db', 2, 100);
    let calls = 0;
    const failing = () => {
      calls += 1;
      return Promise.reject(refused());
    };
    assert.equal(breaker.passThrough, true);
    await assert.rejects(breaker.execute(failing), ConnectionError);
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.passThrough, false, 'a counted failure takes the hot path off the pass-through');
    await assert.rejects(breaker.execute(failing), ConnectionError);
    assert.equal(breaker.state, 'open');
    const before = Date.now();
    await assert.rejects(breaker.execute(failing), (error: unknown) => {
      assert.ok(error instanceof CircuitOpenError);
      assert.equal(error.adapterId, 'db');
      assert.equal(error.code, 'DK_CIRCUIT_OPEN');
      assert.ok(error.retryAt.getTime() >= before && error.retryAt.getTime() <= before + 100);
      assert.match(error.message, /after 2 consecutive connection failures/);
      assert.ok(error.cause instanceof ConnectionError);
      return true;
    });
    assert.equal(calls, 2, 'an open circuit does not call through');
    await sleep(120);
    assert.equal(breaker.state, 'half-open');
    await assert.rejects(breaker.execute(failing), ConnectionError);
    assert.equal(breaker.state, 'open', 'a failed probe opens the circuit again');
    assert.equal(breaker.timesOpened, 1, 'the same outage');
    await sleep(120);
    assert.equal(await breaker.execute(() => Promise.resolve('up')), 'up');
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.passThrough, true);
    assert.equal(breaker.timesOpened, 1);
  });

  it('an error the caller does not count (the server answered) resets the run of failures', async () => {
    const breaker = new CircuitBreaker('db', 2, 10_000);
    await assert.rejects(breaker.execute(() => Promise.reject(refused())), ConnectionError);
    const rejected = new QueryError('db', 'syntax error');
    await assert.rejects(breaker.execute(() => Promise.reject(rejected), (e) => e instanceof ConnectionError), (e: unknown) => e === rejected);
    assert.equal(breaker.passThrough, true);
    await assert.rejects(breaker.execute(() => Promise.reject(refused())), ConnectionError);
    assert.equal(breaker.state, 'closed', 'one failure since the reset, not two');
  });

  it('recordFailure counts a failure seen on the pass-through path', async () => {
    const breaker = new CircuitBreaker('db', 1, 10_000);
    await breaker.recordFailure(refused());
    assert.equal(breaker.state, 'open');
    await assert.rejects(breaker.execute(() => Promise.resolve(1)), CircuitOpenError);
  });

  it('reconnected() closes an open circuit at once (the driver reached the server again by itself) and keeps the count of openings', async () => {
    const breaker = new CircuitBreaker('db', 1, 60_000);
    await breaker.recordFailure(refused());
    assert.equal(breaker.state, 'open');
    breaker.reconnected();
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.passThrough, true);
    assert.equal(await breaker.execute(() => Promise.resolve(1)), 1);
    assert.equal(breaker.timesOpened, 1);
    await breaker.recordFailure(refused());
    assert.equal(breaker.state, 'open', 'the threshold still applies afterwards');
    assert.equal(breaker.timesOpened, 2);
  });
});

describe('ConnectRetry (on cockatiel)', () => {
  it('retries only failures where nothing ran, retries + 1 attempts in all, with full-jitter delays', async () => {
    const notices: { attempt: number; delayMs: number }[] = [];
    const retry = new ConnectRetry(2, (n) => notices.push({ attempt: n.attempt, delayMs: n.delayMs }));
    let attempts = 0;
    await assert.rejects(retry.execute(() => {
      attempts += 1;
      return Promise.reject(refused());
    }), ConnectionError);
    assert.equal(attempts, 3);
    assert.deepEqual(notices.map((n) => n.attempt), [1, 2]);
    assert.ok(notices[0]!.delayMs >= 0 && notices[0]!.delayMs < 100 && notices[1]!.delayMs < 200);

    attempts = 0;
    await assert.rejects(retry.execute(() => {
      attempts += 1;
      return Promise.reject(new ConnectionError('db', 'password authentication failed', { retriable: false }));
    }), ConnectionError);
    assert.equal(attempts, 1, 'a refused login is not retried');
    assert.equal(isRetriableConnectFailure(new TimeoutError('connect', 'no answer')), true);
    assert.equal(isRetriableConnectFailure(new TimeoutError('statement', 'slow')), false);
  });

  it('a failure replayed as attempt 1 is counted like one made here', async () => {
    const retry = new ConnectRetry(1, () => undefined);
    const replayed: unknown[] = [];
    let attempts = 0;
    const value = await retry.execute(
      () => {
        attempts += 1;
        return Promise.resolve('connected');
      },
      { error: refused(), replay: (error) => (replayed.push(error), Promise.reject(error)) },
    );
    assert.equal(value, 'connected');
    assert.equal(replayed.length, 1);
    assert.equal(attempts, 1);
  });
});

describe('withTimeout (on cockatiel)', () => {
  it('answers with the caller\'s error when the work hangs, and with the work when it is in time', async () => {
    await assert.rejects(withTimeout(() => new Promise(() => undefined), 30, () => new TimeoutError('operation', 'probe got no reply')), /probe got no reply/);
    assert.equal(await withTimeout(() => Promise.resolve(7), 1000, () => new Error('never')), 7);
  });
});

describe('DurationBuckets', () => {
  it('counts durations into the OpenTelemetry buckets (cumulative on export, seconds)', () => {
    const d = new DurationBuckets();
    for (const ms of [0.4, 1, 3, 20, 700, 20_000]) d.observe(ms);
    const h = d.export(6);
    assert.deepEqual(h.buckets.map((b) => b.count), [2, 3, 3, 4, 4, 4, 5, 5, 5]);
    assert.equal(h.count, 6);
    assert.ok(Math.abs(h.sumSeconds - 20.7244) < 1e-9);
  });

  it('scales timed samples to the exact count when only some operations were timed', () => {
    const d = new DurationBuckets();
    d.observe(0.5);
    d.observe(2);
    const h = d.export(8);
    assert.deepEqual(h.buckets.map((b) => b.count), [4, 8, 8, 8, 8, 8, 8, 8, 8]);
    assert.equal(h.count, 8);
    assert.ok(Math.abs(h.sumSeconds - 0.01) < 1e-12);
    assert.deepEqual(new DurationBuckets().export(0).buckets.map((b) => b.count), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('probeHealth (the health wrapper of every adapter)', () => {
  const context = (overrides: Partial<HealthContext> = {}): HealthContext => ({ adapterId: 'db', type: 'fake', timeoutMs: 200, connected: true, assertConnected: () => undefined, ...overrides });
  const hooks = (overrides: Partial<AdapterHooks> = {}): AdapterHooks => ({
    open: async () => undefined,
    shutdown: async () => undefined,
    probe: async () => ({ serverVersion: '1.0' }),
    connections: () => ({ active: 1, idle: 2, waiting: 0, total: 3, max: 10 }),
    mapConnectError: (raw) => new ConnectionError('db', String(raw)),
    mapError: (raw) => new QueryError('db', `mapped: ${String(raw)}`),
    ...overrides,
  });

  it('healthy with the probe\'s facts, timing and pool; degraded when callers wait or the probe is slow', async () => {
    const ok = await probeHealth(context(), hooks());
    assert.equal(ok.status, 'healthy');
    assert.equal(ok.serverVersion, '1.0');
    assert.deepEqual(ok.pool, { total: 3, idle: 2, waiting: 0 });
    assert.ok(ok.latency >= 0 && ok.checkedAt instanceof Date);
    const waiting = await probeHealth(context(), hooks({ connections: () => ({ active: 10, idle: 0, waiting: 4, total: 10, max: 10 }), poolLabel: 'dedicated pool of 10' }));
    assert.equal(waiting.status, 'degraded');
    assert.deepEqual(waiting.reasons, ['4 callers waiting for a connection (dedicated pool of 10 exhausted)']);
    const slow = await probeHealth(context(), hooks({ probe: async () => ({ latency: 1500, latencyLabel: 'PING', reasons: ['loading'] }) }));
    assert.equal(slow.status, 'degraded');
    assert.deepEqual(slow.reasons, ['loading', 'PING took 1500 ms']);
    assert.equal(slow.latency, 1500);
  });

  it('answers within the timeout when the server hangs, and never throws', async () => {
    const started = Date.now();
    const hung = await probeHealth(context(), hooks({ probe: () => new Promise(() => undefined) }));
    assert.ok(Date.now() - started < 2000);
    assert.equal(hung.status, 'unhealthy');
    assert.equal(hung.error?.code, 'DK_TIMEOUT');
    assert.match(hung.reasons[0]!, /health probe got no reply within 200 ms/);
    const failed = await probeHealth(context(), hooks({ probe: () => Promise.reject(new Error('socket hang up')) }));
    assert.equal(failed.status, 'unhealthy');
    assert.deepEqual(failed.error, { code: 'DK_QUERY', message: 'db: mapped: Error: socket hang up' });
    const closed = await probeHealth(context({ connected: false, assertConnected: () => { throw new LifecycleError('db: the adapter is closed'); } }), hooks());
    assert.equal(closed.error?.code, 'DK_LIFECYCLE');
    assert.deepEqual(closed.pool, { total: 0, idle: 0, waiting: 0 });
  });
});
