import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedAttempts } from '../../src/server/auth/failed-attempts.js';

describe('FailedAttempts (the limit on failed authentication per address)', () => {
  it('refuses an address after 10 different credentials failed within a minute, until the oldest leaves the window', () => {
    const failures = new FailedAttempts();
    for (let i = 0; i < 9; i += 1) failures.fail('10.0.0.1', `Bearer dk_guess${i}`, 1000 + i);
    assert.equal(failures.retryAfter('10.0.0.1', 2000), 0);
    failures.fail('10.0.0.1', 'Bearer dk_guess9', 2000);
    assert.equal(failures.retryAfter('10.0.0.1', 2000), 59, 'the oldest failure (t=1 s) leaves the window at 61 s');
    assert.equal(failures.retryAfter('10.0.0.2', 2000), 0, 'another address is not affected');
    assert.equal(failures.retryAfter('10.0.0.1', 61_001), 0);
  });

  it('counts one revoked token sent again and again (a dashboard left open) once, and keeps it renewed', () => {
    const failures = new FailedAttempts();
    for (let i = 0; i < 50; i += 1) failures.fail('10.0.0.1', 'Bearer dk_revoked', 1000 + i * 100);
    assert.equal(failures.retryAfter('10.0.0.1', 6000), 0);
    for (let i = 0; i < 9; i += 1) failures.fail('10.0.0.1', `Bearer dk_guess${i}`, 6000);
    assert.ok(failures.retryAfter('10.0.0.1', 6000) > 0, 'the revoked token still counts once among ten different credentials');
  });
});
