import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataManager, UsageError } from '../../src/index.js';
import { PG_ADMIN_URL } from '../support/postgres-server.js';

describe('the "transactions" configuration section', () => {
  it('sets the coordinator options; configure() in code overrides it', async () => {
    const dm = new DataManager({ config: { databases: [PG_ADMIN_URL], transactions: { nodeId: 'node-a', recoveryInterval: 0 }, logLevel: 'error' } });
    await dm.initialize();
    try {
      assert.equal(await dm.transactions.nodeId(), 'node-a');
    } finally {
      await dm.close();
    }
    const other = new DataManager({ config: { databases: [PG_ADMIN_URL], transactions: { nodeId: 'node-a' }, logLevel: 'error' } });
    await other.initialize();
    try {
      other.transactions.configure({ nodeId: 'node-b' });
      assert.equal(await other.transactions.nodeId(), 'node-b');
    } finally {
      await other.close();
    }
  });

  it('a bad value is an error naming the option', async () => {
    const dm = new DataManager({ config: { databases: [PG_ADMIN_URL], transactions: { recoveryInterval: -5 }, logLevel: 'error' } });
    await dm.initialize();
    try {
      await assert.rejects(dm.transactions.nodeId(), (e: unknown) => e instanceof UsageError && /recoveryInterval/.test(e.message));
    } finally {
      await dm.close();
    }
  });
});
