import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Timestamp } from 'mongodb';
import { classifyTopology } from '../../src/engines/mongodb/classify-topology.js';
import { healthFromHello } from '../../src/engines/mongodb/health-from-hello.js';

// hello replies as servers send them (fields from https://www.mongodb.com/docs/manual/reference/command/hello/).
const standalone = { isWritablePrimary: true, maxWireVersion: 21, logicalSessionTimeoutMinutes: 30, ok: 1 };
const primary = {
  isWritablePrimary: true, secondary: false, setName: 'rs0', setVersion: 1, hosts: ['db1:27017', 'db2:27017', 'db3:27017'],
  primary: 'db1:27017', me: 'db1:27017', maxWireVersion: 21, logicalSessionTimeoutMinutes: 30, ok: 1,
};
const secondary = { ...primary, isWritablePrimary: false, secondary: true, me: 'db2:27017' };
const arbiter = { ...primary, isWritablePrimary: false, secondary: false, arbiterOnly: true, me: 'db3:27017' };
const recovering = { isWritablePrimary: false, secondary: false, setName: 'rs0', hosts: ['db1:27017'], logicalSessionTimeoutMinutes: 30, ok: 1 };
const mongos = { isWritablePrimary: true, msg: 'isdbgrid', maxWireVersion: 21, logicalSessionTimeoutMinutes: 30, ok: 1 };
const legacyPrimary = { ismaster: true, setName: 'rs0', primary: 'db1:27017', hosts: ['db1:27017'], logicalSessionTimeoutMinutes: 30, ok: 1 };
const noSessions = { ...primary, logicalSessionTimeoutMinutes: undefined };

describe('classifyTopology', () => {
  const cases: [string, Record<string, unknown>, string, string, boolean][] = [
    ['standalone', standalone, 'standalone', 'standalone', false],
    ['replica-set primary', primary, 'replica-set', 'primary', true],
    ['replica-set secondary', secondary, 'replica-set', 'secondary', true],
    ['arbiter', arbiter, 'replica-set', 'arbiter', true],
    ['member neither primary nor secondary', recovering, 'replica-set', 'other', true],
    ['mongos', mongos, 'sharded', 'mongos', true],
    ['legacy isMaster reply', legacyPrimary, 'replica-set', 'primary', true],
    ['replica set without sessions', noSessions, 'replica-set', 'primary', false],
  ];
  for (const [title, hello, kind, role, transactions] of cases) {
    it(title, () => {
      const topology = classifyTopology(hello);
      assert.equal(topology.kind, kind);
      assert.equal(topology.role, role);
      assert.equal(topology.transactions, transactions);
      assert.equal(topology.transactionsUnavailableReason === undefined, transactions);
    });
  }

  it('says why a standalone cannot run transactions', () => {
    assert.match(classifyTopology(standalone).transactionsUnavailableReason!, /standalone mongod.*need a replica set/);
  });
});

function member(name: string, state: number, stateStr: string, optimeDate: Date | undefined, extra: Record<string, unknown> = {}) {
  return { _id: name.length, name, health: 1, state, stateStr, ...(optimeDate ? { optimeDate } : {}), ...extra };
}
const t0 = new Date('2024-05-01T12:00:00Z');
const seconds = (s: number) => new Date(t0.getTime() - s * 1000);

describe('healthFromHello', () => {
  it('standalone: healthy, not in recovery, no lag facts', () => {
    const facts = healthFromHello({ hello: standalone, buildInfo: { version: '7.0.12' } });
    assert.deepEqual(facts.reasons, []);
    assert.equal(facts.inRecovery, false);
    assert.equal(facts.serverVersion, '7.0.12');
    assert.equal(facts.details.topology, 'standalone');
    assert.equal(facts.details.role, 'standalone');
    assert.equal(facts.details.transactions, false);
    assert.equal(facts.details.members, undefined);
    assert.equal(facts.details.lagUnavailable, undefined);
  });

  it('replica set primary with lag per secondary from optimes', () => {
    const status = {
      set: 'rs0',
      members: [
        member('db1:27017', 1, 'PRIMARY', t0, { self: true }),
        member('db2:27017', 2, 'SECONDARY', seconds(3)),
        member('db3:27017', 2, 'SECONDARY', seconds(0)),
      ],
    };
    const facts = healthFromHello({ hello: primary, replSetStatus: status });
    assert.deepEqual(facts.reasons, []);
    assert.equal(facts.inRecovery, false);
    assert.equal(facts.details.setName, 'rs0');
    assert.deepEqual(facts.details.hosts, ['db1:27017', 'db2:27017', 'db3:27017']);
    assert.equal(facts.details.primary, 'db1:27017');
    assert.deepEqual(facts.details.members, [
      { name: 'db1:27017', state: 'PRIMARY', healthy: true },
      { name: 'db2:27017', state: 'SECONDARY', healthy: true, lagSeconds: 3 },
      { name: 'db3:27017', state: 'SECONDARY', healthy: true, lagSeconds: 0 },
    ]);
    assert.equal(facts.details.maxLagSeconds, 3);
  });

  it('a secondary beyond the lag limit degrades the status and names it', () => {
    const status = { members: [member('db1:27017', 1, 'PRIMARY', t0), member('db2:27017', 2, 'SECONDARY', seconds(45))] };
    const facts = healthFromHello({ hello: primary, replSetStatus: status, maxLagSeconds: 30 });
    assert.deepEqual(facts.reasons, ['member db2:27017 is 45 s behind the primary (limit 30 s)']);
  });

  it('lag from optime.ts when optimeDate is missing', () => {
    const status = {
      members: [
        { name: 'a', state: 1, stateStr: 'PRIMARY', health: 1, optime: { ts: new Timestamp({ t: 1_700_000_100, i: 1 }), t: 3 } },
        { name: 'b', state: 2, stateStr: 'SECONDARY', health: 1, optime: { ts: new Timestamp({ t: 1_700_000_088, i: 7 }), t: 3 } },
      ],
    };
    const facts = healthFromHello({ hello: primary, replSetStatus: status });
    assert.deepEqual((facts.details.members as { lagSeconds?: number }[]).map((m) => m.lagSeconds), [undefined, 12]);
  });

  it('an unreachable or recovering member degrades the status', () => {
    const status = {
      members: [
        member('db1:27017', 1, 'PRIMARY', t0),
        { ...member('db2:27017', 8, '(not reachable/healthy)', undefined), health: 0 },
        member('db3:27017', 3, 'RECOVERING', seconds(600)),
      ],
    };
    const facts = healthFromHello({ hello: primary, replSetStatus: status });
    assert.deepEqual(facts.reasons, ['member db2:27017 is unreachable ((not reachable/healthy))', 'member db3:27017 is RECOVERING']);
  });

  it('arbiters have no lag', () => {
    const status = { members: [member('db1:27017', 1, 'PRIMARY', t0), member('db3:27017', 7, 'ARBITER', undefined)] };
    const facts = healthFromHello({ hello: primary, replSetStatus: status });
    assert.deepEqual(facts.reasons, []);
    assert.equal(facts.details.maxLagSeconds, undefined);
  });

  it('no primary in the set degrades the status', () => {
    const { primary: _gone, ...helloWithoutPrimary } = secondary;
    const facts = healthFromHello({ hello: helloWithoutPrimary });
    assert.equal(facts.inRecovery, true);
    assert.ok(facts.reasons.some((r) => /reports no primary/.test(r)), facts.reasons.join('; '));
  });

  it('a secondary is in recovery (it applies the oplog and refuses writes)', () => {
    const facts = healthFromHello({ hello: secondary, replSetStatusError: 'not authorized' });
    assert.equal(facts.inRecovery, true);
    assert.equal(facts.details.role, 'secondary');
    assert.deepEqual(facts.reasons, []);
  });

  it('a member in another state is degraded', () => {
    const facts = healthFromHello({ hello: recovering });
    assert.equal(facts.details.role, 'other');
    assert.ok(facts.reasons.some((r) => /neither primary nor secondary/.test(r)));
  });

  it('without replSetGetStatus (no privilege) lag is reported unavailable, not as a failure', () => {
    const facts = healthFromHello({ hello: primary, replSetStatusError: 'replSetGetStatus failed (not authorized on admin)' });
    assert.deepEqual(facts.reasons, []);
    assert.match(String(facts.details.lagUnavailable), /not authorized/);
  });

  it('mongos reports the sharded topology', () => {
    const facts = healthFromHello({ hello: mongos });
    assert.equal(facts.details.topology, 'sharded');
    assert.equal(facts.details.role, 'mongos');
    assert.equal(facts.details.transactions, true);
    assert.deepEqual(facts.reasons, []);
  });
});
