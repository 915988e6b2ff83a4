import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/server/api-error.js';
import { RequestPacer } from '../../src/server/request-pacer.js';

/** A clock that moves only when the test says: no refill can come from a slow machine between two calls. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RequestPacer (the service answers at most N requests per second; the rest wait their turn)', () => {
  it('lets a burst of one second\'s worth through at once and queues the next request', async () => {
    const clock = manualClock();
    const pacer = new RequestPacer({ perSecond: 20, maxWaitMs: 5000 }, 'server.requestsPerSecond', clock.now);
    for (let i = 0; i < 20; i += 1) await pacer.acquire();
    assert.equal(pacer.waiting, 0);
    const next = pacer.acquire();
    assert.equal(pacer.waiting, 1, 'the 21st request waits for a token');
    clock.advance(50);
    await next;
    assert.equal(pacer.waiting, 0);
  });

  it('answers queued requests in arrival order', async () => {
    const pacer = new RequestPacer({ perSecond: 50, maxWaitMs: 5000 }, 'server.requestsPerSecond');
    for (let i = 0; i < 50; i += 1) await pacer.acquire();
    const order: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, i) => pacer.acquire().then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('refuses at once, with 503, Retry-After and the option to raise, a request that would wait longer than the limit', async () => {
    const clock = manualClock();
    const pacer = new RequestPacer({ perSecond: 10, maxWaitMs: 1000 }, 'server.requestsPerSecond', clock.now);
    for (let i = 0; i < 10; i += 1) await pacer.acquire();
    const queued = Array.from({ length: 9 }, () => pacer.acquire());
    let refused: unknown;
    try {
      // The queue holds about a second's worth now; one more than that cannot be answered within 1 s.
      for (let i = 0; i < 3; i += 1) queued.push(pacer.acquire());
      await Promise.all(queued);
    } catch (error) {
      refused = error;
    }
    assert.ok(refused instanceof ApiError, `refused with an ApiError, got ${String(refused)}`);
    assert.equal(refused.status, 503);
    assert.equal(refused.code, 'overloaded');
    assert.match(refused.message, /10 requests per second \(server\.requestsPerSecond\)/);
    assert.ok(Number(refused.headers['Retry-After']) >= 1);
    clock.advance(2000);
    await Promise.allSettled(queued);
  });

  it('never waits when pacing is off (0)', async () => {
    const pacer = new RequestPacer({ perSecond: 0, maxWaitMs: 1 }, 'server.requestsPerSecond');
    await Promise.all(Array.from({ length: 1000 }, () => pacer.acquire()));
    assert.equal(pacer.waiting, 0);
  });
});
