import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import type { Logger } from '../../src/util/logger.js';
import { freePort } from '../support/free-port.js';
import { ThrowawaySentinelGroup, waitFor } from '../support/throwaway-redis.js';

/**
 * ioredis opens connections of its own to the Sentinels (failoverDetector) without an 'error' listener, so a Sentinel
 * that is down made it print "[ioredis] Unhandled error event: ..." to stderr with console.error, past the logger.
 * Here one of the configured Sentinels is down from the start: its errors must reach the adapter's logger instead.
 */
describe('redis adapter in Sentinel mode with one Sentinel down', () => {
  let group: ThrowawaySentinelGroup;
  let deadPort: number;
  const printed: string[] = [];
  const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = { log: (level, message, fields) => logged.push({ level, message, fields }) };
  const consoleError = console.error;

  before(async () => {
    group = await ThrowawaySentinelGroup.start();
    deadPort = await freePort();
    console.error = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
      consoleError(...args);
    };
  });
  after(async () => {
    console.error = consoleError;
    await group?.stop();
  });

  it('reports the dead Sentinel through the logger, never with console.error, and keeps serving', async () => {
    const adapter = new RedisAdapter(
      resolveDatabaseConfig(
        {
          type: 'redis',
          host: 'sentinel-group',
          database: '0',
          options: { sentinels: [...group.sentinelAddresses, { host: '127.0.0.1', port: deadPort }], masterName: ThrowawaySentinelGroup.MASTER_NAME },
        },
        'test',
      ),
      { logger },
    );
    try {
      await adapter.connect();
      assert.equal(await adapter.command('PING'), 'PONG');
      // The failover detector subscribes on every Sentinel right after connecting; the dead one is refused at once.
      await waitFor(async () => logged.some((e) => e.message === 'redis sentinel connection error'), 10_000, 'the dead Sentinel\'s error in the log');
      const entry = logged.find((e) => e.message === 'redis sentinel connection error')!;
      assert.equal(entry.level, 'warn');
      assert.equal(entry.fields?.adapter, adapter.id);
      assert.match(String(entry.fields?.error), /ECONNREFUSED/);
      assert.equal(await adapter.command('PING'), 'PONG');
    } finally {
      await adapter.close();
    }
    assert.deepEqual(printed.filter((line) => line.includes('[ioredis]')), [], 'ioredis printed past the logger');
  });
});
