import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseCandidate, type CandidateInput } from '../../src/replication/choose-candidate.js';
import type { NodeStatus, ReplicationNode } from '../../src/replication/replication-part.js';
import { ReplicationError } from '../../src/errors/index.js';

// Positions as plain numbers in strings: the choice only compares and measures them through the driver's functions.
const compare = (a: string, b: string) => Number(a) - Number(b);
const distance = (from: string, to: string) => Math.max(0, Number(to) - Number(from));

function node(name: string, extra: Partial<ReplicationNode> = {}): ReplicationNode {
  return { name, host: '127.0.0.1', port: 1, region: undefined, dataDir: undefined, sync: true, priority: 1, config: {} as ReplicationNode['config'], ...extra };
}
const replica = (name: string, received: number, extra: Partial<NodeStatus> = {}): NodeStatus => ({ name, reachable: true, role: 'replica', timeline: 1, receivedPosition: String(received), replayedPosition: String(received), ...extra });
const down = (name: string): NodeStatus => ({ name, reachable: false, role: 'unknown', error: 'connection refused' });

function input(statuses: NodeStatus[], extra: Partial<CandidateInput> = {}): CandidateInput {
  return {
    nodes: [node('p'), node('a', { priority: 1 }), node('b', { priority: 2 }), node('c', { priority: 3 })],
    statuses: [down('p'), ...statuses],
    oldPrimary: 'p',
    lastPrimaryPosition: '1000',
    mode: 'async',
    syncMethod: 'any',
    syncCount: 1,
    lastSyncStandbys: [],
    syncEligible: ['a', 'b', 'c'],
    maximumLag: 100,
    regions: undefined,
    compare,
    distance,
    ...extra,
  };
}

describe('chooseCandidate: which replica is promoted', () => {
  it('the most advanced reachable replica, whatever its priority', () => {
    const choice = chooseCandidate(input([replica('a', 990), replica('b', 1000), replica('c', 950)]));
    assert.equal(choice.node.name, 'b');
    assert.equal(choice.position, '1000');
  });

  it('on equal positions: the one the primary last called synchronous, then priority', () => {
    assert.equal(chooseCandidate(input([replica('a', 1000), replica('b', 1000)], { lastSyncStandbys: ['b'] })).node.name, 'b');
    assert.equal(chooseCandidate(input([replica('a', 1000), replica('b', 1000)])).node.name, 'a');
  });

  it('never one more than maximumLagOnFailover behind the last primary position, and says why', () => {
    assert.throws(() => chooseCandidate(input([replica('a', 800), replica('b', 850)])), (e: unknown) => {
      assert.ok(e instanceof ReplicationError);
      assert.equal(e.reason, 'no-candidate');
      assert.match(e.message, /a is 200 bytes behind, more than maximumLagOnFailover \(100\)/);
      return true;
    });
    assert.equal(chooseCandidate(input([replica('a', 800)], { force: true })).node.name, 'a');
  });

  it('skips unreachable members, primaries and older timelines', () => {
    const choice = chooseCandidate(input([down('a'), replica('b', 1000, { role: 'primary' }), replica('c', 999, { timeline: 2 })], { lastPrimaryPosition: undefined }));
    assert.equal(choice.node.name, 'c');
    const reasons = Object.fromEntries(choice.considered.map((c) => [c.name, c.reason]));
    assert.match(reasons.a!, /unreachable/);
    assert.match(reasons.b!, /not a replica/);
  });

  it('regions: only the listed ones, in their order of preference', () => {
    const nodes = [node('p'), node('a', { region: 'us' }), node('b', { region: 'eu-2' }), node('c', { region: 'eu-1' })];
    const choice = chooseCandidate(input([replica('a', 1000), replica('b', 1000), replica('c', 1000)], { nodes, regions: ['eu-1', 'eu-2'] }));
    assert.equal(choice.node.name, 'c');
    assert.match(choice.considered.find((c) => c.name === 'a')!.reason, /not in failoverRegions/);
  });

  it('sync ANY 1 of 3: two of the three standbys must be reachable, else refused unless forced', () => {
    const sync = { mode: 'sync' as const, lastSyncStandbys: ['a', 'b', 'c'] };
    // Any commit is on one of a, b, c; with a and b down it may be only on them.
    assert.throws(() => chooseCandidate(input([down('a'), down('b'), replica('c', 1000)], sync)), /only 1 of the 3 synchronous standbys are reachable and 3 are needed/);
    // ANY 2 of 3: any two hold every commit.
    assert.equal(chooseCandidate(input([down('a'), replica('b', 990), replica('c', 1000)], { ...sync, syncCount: 2 })).node.name, 'c');
    const forced = chooseCandidate(input([down('a'), down('b'), replica('c', 1000)], { ...sync, force: true }));
    assert.equal(forced.node.name, 'c');
    assert.match(forced.warnings[0]!, /forced/);
  });

  it('sync FIRST 1: the standby the primary last called sync must be reachable', () => {
    const first = { mode: 'sync' as const, syncMethod: 'first' as const, lastSyncStandbys: ['a'] };
    assert.throws(() => chooseCandidate(input([down('a'), replica('b', 1000)], first)), /none of the standbys the primary last called synchronous \(a\)/);
    assert.equal(chooseCandidate(input([replica('a', 1000), replica('b', 1000)], first)).node.name, 'a');
  });

  it('a target is checked, not replaced: refused when unreachable or behind another, unless forced', () => {
    assert.equal(chooseCandidate(input([replica('a', 1000), replica('b', 1000)], { target: 'b' })).node.name, 'b');
    assert.throws(() => chooseCandidate(input([down('a'), replica('b', 1000)], { target: 'a' })), /a cannot be promoted: unreachable/);
    assert.throws(() => chooseCandidate(input([replica('a', 950), replica('b', 1000)], { target: 'a' })), /a is 50 bytes behind b/);
    assert.throws(() => chooseCandidate(input([replica('a', 1000)], { target: 'p' })), /p cannot be promoted: is the primary being replaced/);
    assert.equal(chooseCandidate(input([replica('a', 950), replica('b', 1000)], { target: 'a', force: true })).node.name, 'a');
  });

  it('a switchover (planned) may pick a target behind another: it replays everything before the promotion', () => {
    const sync = { mode: 'sync' as const, lastSyncStandbys: ['a', 'b', 'c'] };
    assert.equal(chooseCandidate(input([down('a'), replica('b', 950), replica('c', 1000)], { ...sync, target: 'b', planned: true })).node.name, 'b');
  });

  it('no replica at all: refused with every member\'s reason', () => {
    assert.throws(() => chooseCandidate(input([down('a'), down('b'), down('c')])), /no replica can be promoted: a unreachable: connection refused; b unreachable/);
  });
});
