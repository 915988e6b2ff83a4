// The replication manager on Redis with Sentinel as the authority: setupReplication configures the Sentinels from
// failoverTimeout and follows them. After a SIGKILL of the master, the Sentinels' failover becomes the manager's
// primary and a `replication.failover` entry in the audit log; the adapter (Sentinel mode) writes to the new master;
// the old master, restarted, is fenced on its return and recorded as such. Real redis-server and Sentinel processes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/data-manager.js';
import { ThrowawaySentinelGroup, waitFor } from '../support/throwaway-redis.js';

describe('replication manager on Redis: following Sentinel', () => {
  let group: ThrowawaySentinelGroup;
  let dm: DataManager;
  const stateDir = mkdtempSync(join(tmpdir(), 'dk-redis-manager-'));
  const name = (port: number) => `127.0.0.1:${port}`;
  /** A RESP reply's bulk strings, in order (rawCommand returns the protocol as it came). */
  const strings = (reply: string) => reply.split('\r\n').filter((line) => line !== '' && !/^[*$:]/.test(line));

  before(async () => {
    group = await ThrowawaySentinelGroup.start({ replicas: 2, downAfterMs: 5000, failoverTimeoutMs: 30_000 });
    const options = { sentinels: group.sentinelAddresses, masterName: ThrowawaySentinelGroup.MASTER_NAME };
    dm = new DataManager({ config: { databases: [{ id: 'cache', type: 'redis', host: 'sentinel-group', database: '0', options }], state: { dir: stateDir }, logLevel: 'error' } });
    await dm.initialize();
  });
  after(async () => {
    await dm?.close();
    await group?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('setupReplication sets the Sentinels\' timings from failoverTimeout and reports the members', async () => {
    const result = await dm.setupReplication({
      enabled: true, mode: 'async', database: 'cache', failoverTimeout: 1000,
      primary: { host: '127.0.0.1', port: group.master.port }, replicas: group.replicas.map((r) => ({ host: '127.0.0.1', port: r.port })),
    });
    assert.equal(result.primary, name(group.master.port));
    const fields = strings(await group.sentinels[0]!.rawCommand(`SENTINEL MASTER ${ThrowawaySentinelGroup.MASTER_NAME}`));
    assert.equal(fields[fields.indexOf('down-after-milliseconds') + 1], '1000', 'down-after-milliseconds from failoverTimeout');
    const status = await dm.replication.status();
    assert.equal(status.primary, name(group.master.port));
    assert.deepEqual(status.nodes.filter((n) => n.role === 'replica').map((n) => n.name).sort(), group.replicas.map((r) => name(r.port)).sort());
  });

  it('a SIGKILLed master: the Sentinels\' failover becomes the manager\'s primary, is audited, and the adapter writes there; the old master is fenced on its return', async () => {
    const old = group.master;
    await old.kill('SIGKILL');
    await waitFor(async () => dm.replication.events().some((e) => e.kind === 'failover' && e.outcome === 'done'), 30_000, 'the manager to record the Sentinels\' failover');
    const failover = dm.replication.events().find((e) => e.kind === 'failover')!;
    assert.equal(failover.from, name(old.port));
    const now = group.replicas.find((r) => name(r.port) === failover.to);
    assert.ok(now, `the new primary ${String(failover.to)} is one of the replicas`);
    assert.match(failover.steps[0]?.detail ?? '', /\+switch-master/);
    assert.equal((await dm.replication.status()).primary, failover.to);
    const audit = (await (await dm.state()).auditLog(20)).filter((a) => a.action === 'replication.failover');
    assert.equal(audit.length, 1, 'one audit entry for the failover');
    assert.equal(audit[0]!.target, 'cache');

    const adapter = dm.database('cache');
    await waitFor(async () => (await adapter.command(['SET', 'after-failover', '1']).catch(() => 'failed')) === 'OK', 15_000, 'a write through the adapter');
    assert.deepEqual(strings(await now.rawCommand('GET after-failover')), ['1'], 'the write landed on the new master');

    await old.restart();
    await waitFor(async () => dm.replication.events().some((e) => e.kind === 'fence' && e.to === name(old.port)), 20_000, 'the returning old master to be fenced');
    await waitFor(async () => (await old.rawCommand('INFO replication')).includes('role:slave'), 20_000, 'the old master to be a replica');
  });
});
