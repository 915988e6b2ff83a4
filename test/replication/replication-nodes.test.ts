import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseReplicationConfig } from '../../src/config/replication-config.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { ConfigurationError } from '../../src/errors/index.js';
import { clusterMembers } from '../../src/replication/replication-nodes.js';

describe('replication members: a replica\'s type must name the primary\'s engine', () => {
  const primary = resolveDatabaseConfig({ type: 'postgresql', host: '127.0.0.1', port: 5432, database: 'app', username: 'postgres', id: 'app' }, 'databases[0]');
  const section = (type: string | undefined) => parseReplicationConfig({ enabled: true, mode: 'async', replicas: [{ host: '127.0.0.1', port: 5433, ...(type === undefined ? {} : { type }) }] });

  it('accepts the engine\'s own name, any of its aliases, or none', () => {
    for (const type of [undefined, 'postgresql', 'postgres', 'pg']) {
      assert.equal(clusterMembers(section(type), primary).nodes.length, 2, String(type));
    }
  });

  it('refuses another engine, naming the field and the primary', () => {
    assert.throws(() => clusterMembers(section('redis'), primary), (e: unknown) => e instanceof ConfigurationError && /replication\.replicas\[0\]\.type/.test(e.message) && /is redis but the primary \(app\) is postgresql/.test(e.message));
  });
});
