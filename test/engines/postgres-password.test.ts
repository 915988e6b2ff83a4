import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthenticationError, DataManager } from '../../src/index.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';

/**
 * A server that asks for a password (scram-sha-256 over TCP): the configured password reaches it, through the pool
 * and after a route, and a wrong one is an AuthenticationError that does not echo it. (pg-pool hides the password
 * from its options, which once made every such connection fail.)
 */
describe('PostgreSQL adapter with a password', { timeout: 60_000 }, () => {
  let rp: ReplicatedPostgres;
  const password = 'Pw-"quoted\' 7f';
  before(async () => {
    rp = await ReplicatedPostgres.start({ name: 'pw', password });
  });
  after(async () => rp?.destroy());

  const config = (pw: string) => ({ databases: [{ id: 'app', type: 'postgresql' as const, host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', password: pw }], logLevel: 'error' as const });

  it('connects with the configured password and runs statements', async () => {
    const dm = new DataManager({ config: config(password) });
    try {
      await dm.initialize();
      assert.deepEqual(await dm.query('SELECT 41 + 1 AS n'), [{ n: 42 }]);
    } finally {
      await dm.close();
    }
  });

  it('a wrong password is refused as an AuthenticationError that does not contain it', async () => {
    const dm = new DataManager({ config: config('wrong-Secret-9') });
    try {
      await assert.rejects(dm.initialize(), (e: unknown) => e instanceof AuthenticationError && !JSON.stringify(e).includes('wrong-Secret-9') && !(e as Error).message.includes('wrong-Secret-9'));
    } finally {
      await dm.close();
    }
  });
});
