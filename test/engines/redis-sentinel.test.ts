import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ThrowawaySentinelGroup } from '../support/throwaway-redis.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

describe('redis adapter in Sentinel mode', () => {
  let group: ThrowawaySentinelGroup;
  let adapter: RedisAdapter;

  before(async () => {
    group = await ThrowawaySentinelGroup.start();
    adapter = new RedisAdapter(
      resolveDatabaseConfig(
        {
          type: 'redis',
          // host/port name the deployment in the adapter id; the connection goes wherever the Sentinels say.
          host: 'sentinel-group',
          database: '0',
          options: { sentinels: group.sentinelAddresses, masterName: ThrowawaySentinelGroup.MASTER_NAME },
        },
        'test',
      ),
      { logger: silentLogger },
    );
    await adapter.connect();
  });
  after(async () => {
    await adapter?.close();
    await group?.stop();
  });

  it('finds the master through the Sentinels and writes to it', async () => {
    assert.equal(await adapter.command('SET before:failover 1'), 'OK');
    assert.equal((await group.master.rawCommand('GET before:failover')).split('\r\n')[1], '1');
    const health = await adapter.health();
    assert.equal(health.status, 'healthy', health.reasons.join('; '));
    assert.equal(health.details?.mode, 'sentinel');
    assert.equal(health.details?.role, 'master');
    const replicas = health.details?.replicas as { address: string; lagBytes: number }[];
    assert.equal(replicas.length, 1);
    assert.equal(replicas[0]!.address, `127.0.0.1:${group.replica.port}`);
  });

  it('keeps serving after the master is killed: the Sentinels promote the replica and the adapter re-discovers it', async () => {
    const oldMasterPort = group.master.port;
    const started = Date.now();
    await group.master.kill('SIGKILL');
    // Watch, beside the adapter, when the Sentinels themselves name the new master: the difference is the adapter's
    // own re-discovery time.
    let promotedAfter: number | undefined;
    const sentinelWatch = (async () => {
      while (promotedAfter === undefined && Date.now() < started + 60_000) {
        const reply = await group.sentinels[0]!.rawCommand(`SENTINEL GET-MASTER-ADDR-BY-NAME ${ThrowawaySentinelGroup.MASTER_NAME}`).catch(() => '');
        if (reply.includes(String(group.replica.port))) promotedAfter = Date.now() - started;
        else await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let failures = 0;
    let written = false;
    let value = '';
    const deadline = started + 60_000;
    for (let i = 0; !written; i += 1) {
      assert.ok(Date.now() < deadline, `no successful write within 60 s of killing the master (${failures} failed attempts)`);
      try {
        value = String(i);
        await adapter.command(['SET', 'after:failover', value]);
        written = true;
      } catch {
        failures += 1;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const elapsed = Date.now() - started;
    await sentinelWatch;
    console.log(`sentinel failover: the Sentinels named the new master after ${promotedAfter ?? '?'} ms; the adapter's writes succeeded again after ${elapsed} ms (${failures} commands failed meanwhile)`);
    const health = await adapter.health();
    assert.equal(health.details?.role, 'master');
    // The write landed on the promoted replica, which is now the master.
    assert.match(await group.replica.rawCommand('ROLE'), /master/);
    assert.equal((await group.replica.rawCommand('GET after:failover')).split('\r\n')[1], value);
    assert.equal(await adapter.command('GET before:failover'), '1', 'data replicated before the failover survived');
    assert.notEqual(oldMasterPort, group.replica.port);
  });
});
