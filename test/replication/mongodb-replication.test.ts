import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Long, MongoServerError, MongoServerSelectionError, Timestamp, type Document } from 'mongodb';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { ReplicationError } from '../../src/errors/index.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { mapReplicationError } from '../../src/engines/mongodb/replication/map-replication-error.js';
import { memberName, sameMember, splitMemberName } from '../../src/engines/mongodb/replication/member-name.js';
import { nodeConnectionPlan } from '../../src/engines/mongodb/replication/node-connection-plan.js';
import { nodeStatuses, referenceView, type NodeProbe } from '../../src/engines/mongodb/replication/node-statuses.js';
import { comparePositions, decodePosition, distanceSeconds, encodePosition, readOptime } from '../../src/engines/mongodb/replication/optime-position.js';
import { preferMember } from '../../src/engines/mongodb/replication/prefer-member.js';
import { readReplSetView } from '../../src/engines/mongodb/replication/repl-set-view.js';
import { stepDownTiming } from '../../src/engines/mongodb/replication/step-down.js';
import { syncSettingsInForce, writeConcernFor } from '../../src/engines/mongodb/replication/sync-write-concern.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';

/*
 * Documents shaped as MongoDB documents them: replSetGetStatus
 * (https://www.mongodb.com/docs/manual/reference/command/replSetGetStatus/, 8.0 adds optimeWritten/optimeWrittenDate
 * and optimes.writtenOpTime), an unreachable member as servers report it (health 0, state 8,
 * stateStr "(not reachable/healthy)", optime {ts: Timestamp(0, 0), t: -1}, optimeDate 1970-01-01), replSetGetConfig's
 * config (https://www.mongodb.com/docs/manual/reference/replica-configuration/) and the server's errors for
 * replSetStepDown (https://www.mongodb.com/docs/manual/reference/command/replSetStepDown/). No server runs here: the
 * driver's behaviour against one is in mongodb-replication-integration.test.ts (needs MONGODB_URL).
 */
const BASE = 1_760_864_474; // seconds
const ts = (seconds: number, i = 1) => new Timestamp({ t: seconds, i });
const optime = (seconds: number, term = 3, i = 1) => ({ ts: ts(seconds, i), t: Long.fromNumber(term) });
const date = (seconds: number) => new Date(seconds * 1000);

interface MemberSpec { id: number; name: string; state: number; stateStr: string; self?: boolean; applied?: number; durable?: number; written?: number; source?: string; down?: boolean }

function member(m: MemberSpec): Document {
  if (m.down) {
    return {
      _id: m.id, name: m.name, health: 0, state: 8, stateStr: '(not reachable/healthy)', uptime: 0,
      optime: { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) }, optimeDurable: { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) },
      optimeDate: new Date(0), optimeDurableDate: new Date(0), lastHeartbeat: date(BASE), lastHeartbeatRecv: date(BASE - 40), pingMs: Long.fromNumber(0),
      lastHeartbeatMessage: `Error connecting to ${m.name} :: caused by :: Connection refused`, syncSourceHost: '', syncSourceId: -1, infoMessage: '', configVersion: -1,
    };
  }
  const applied = m.applied ?? BASE;
  const doc: Document = {
    _id: m.id, name: m.name, health: 1, state: m.state, stateStr: m.stateStr, uptime: 1029,
    optime: optime(applied), optimeDate: date(applied),
    syncSourceHost: m.source ?? '', syncSourceId: m.source ? 0 : -1, infoMessage: '', configVersion: 5, configTerm: 3,
  };
  if (m.self) {
    doc.self = true;
    delete doc.health;
  } else {
    doc.optimeDurable = optime(m.durable ?? applied);
    doc.optimeDurableDate = date(m.durable ?? applied);
    doc.lastHeartbeat = date(BASE);
  }
  doc.optimeWritten = optime(m.written ?? applied);
  doc.optimeWrittenDate = date(m.written ?? applied);
  if (m.state === 1) Object.assign(doc, { electionTime: ts(BASE - 300, 2), electionDate: date(BASE - 300) });
  return doc;
}

function status(set: string, myState: number, term: number, members: MemberSpec[]): Document {
  const self = members.find((m) => m.self)!;
  const own = optime(self.applied ?? BASE, term);
  return {
    set, date: date(BASE + 1), myState, term: Long.fromNumber(term), syncSourceHost: self.source ?? '', syncSourceId: self.source ? 0 : -1,
    heartbeatIntervalMillis: Long.fromNumber(2000), majorityVoteCount: 2, writeMajorityCount: 2, votingMembersCount: 3, writableVotingMembersCount: 3,
    optimes: {
      lastCommittedOpTime: own, lastCommittedWallTime: date(BASE), readConcernMajorityOpTime: own,
      appliedOpTime: own, durableOpTime: optime(self.durable ?? self.applied ?? BASE, term), writtenOpTime: optime(self.written ?? self.applied ?? BASE, term),
      lastAppliedWallTime: date(BASE), lastDurableWallTime: date(BASE), lastWrittenWallTime: date(BASE),
    },
    members: members.map(member), ok: 1, operationTime: ts(BASE),
  };
}

function node(name: string, host: string, port: number, url?: string): ReplicationNode {
  return { name, host, port, region: undefined, dataDir: undefined, sync: true, priority: 0, config: resolveDatabaseConfig(url ?? { type: 'mongodb', host, port, database: 'app' }, 'test') };
}

const n1 = node('m1', 'db1.example.net', 27017);
const n2 = node('m2', 'db2.example.net', 27017);
const n3 = node('m3', 'db3.example.net', 27017);
const P = { id: 0, name: 'db1.example.net:27017', state: 1, stateStr: 'PRIMARY' };
const S2 = { id: 1, name: 'db2.example.net:27017', state: 2, stateStr: 'SECONDARY', source: 'db1.example.net:27017' };
const S3 = { id: 2, name: 'db3.example.net:27017', state: 2, stateStr: 'SECONDARY', source: 'db2.example.net:27017' };

describe('MongoDB optime positions', () => {
  it('reads {ts: Timestamp, t: Long} and treats a never-reported optime as none', () => {
    assert.deepEqual(readOptime(optime(BASE, 6, 4)), { term: 6, seconds: BASE, increment: 4 });
    assert.equal(readOptime({ ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) }), undefined);
    assert.equal(readOptime({ ts: 'x', t: 1 }), undefined);
  });

  it('orders by term, then seconds, then increment, and the strings sort the same way', () => {
    const list = [
      { term: 2, seconds: BASE + 100, increment: 1 },
      { term: 3, seconds: BASE, increment: 2 },
      { term: 3, seconds: BASE, increment: 10 },
      { term: 3, seconds: BASE + 1, increment: 1 },
      { term: 12, seconds: BASE - 50, increment: 1 },
    ].map(encodePosition);
    const shuffled = [list[3]!, list[0]!, list[4]!, list[2]!, list[1]!];
    assert.deepEqual([...shuffled].sort(comparePositions), list);
    assert.deepEqual([...shuffled].sort(), list, 'plain string order agrees with comparePositions');
    assert.ok(comparePositions(list[1]!, list[1]!) === 0);
  });

  it('measures distance in seconds, 0 when the second position is not ahead', () => {
    const a = encodePosition({ term: 3, seconds: BASE, increment: 1 });
    const b = encodePosition({ term: 3, seconds: BASE + 7, increment: 1 });
    assert.equal(distanceSeconds(a, b), 7);
    assert.equal(distanceSeconds(b, a), 0);
    assert.equal(distanceSeconds(a, encodePosition({ term: 3, seconds: BASE, increment: 9 })), 0, 'same second');
    assert.equal(getEngine('mongodb').parts.replication?.distance(a, b), 7);
  });

  it('refuses a string that is not a position, naming the argument', () => {
    assert.throws(() => decodePosition('0/16B3748', 'to'), (e: unknown) => e instanceof ReplicationError && /to "0\/16B3748" is not a MongoDB position/.test(e.message));
    assert.throws(() => comparePositions('x', encodePosition({ term: 1, seconds: 1, increment: 1 })), ReplicationError);
  });
});

describe('replSetGetStatus views', () => {
  it('reads the set, term, members, self and the primary', () => {
    const view = readReplSetView(status('rs0', 1, 3, [{ ...P, self: true }, { ...S2, applied: BASE - 2 }, { ...S3, down: true }]));
    assert.equal(view.set, 'rs0');
    assert.equal(view.term, 3);
    assert.equal(view.self?.name, 'db1.example.net:27017');
    assert.equal(view.primary?.name, 'db1.example.net:27017');
    assert.deepEqual(view.members.map((m) => [m.stateStr, m.healthy]), [['PRIMARY', true], ['SECONDARY', true], ['(not reachable/healthy)', false]]);
    assert.equal(view.members[1]!.syncSource, 'db1.example.net:27017');
    assert.equal(view.members[1]!.appliedAt, (BASE - 2) * 1000);
    assert.equal(view.members[2]!.applied, undefined, 'a down member has no optime');
    assert.equal(view.members[2]!.appliedAt, undefined, 'nor a 1970 optimeDate');
    assert.match(view.members[2]!.heartbeatMessage!, /Connection refused/);
  });
});

describe('node statuses from the members\' replies', () => {
  const primaryView = (s2: number, s3: number, extra: Partial<MemberSpec> = {}) =>
    readReplSetView(status('rs0', 1, 3, [{ ...P, self: true }, { ...S2, applied: s2, ...extra }, { ...S3, applied: s3 }]));
  const secondaryView = (spec: MemberSpec, applied: number) =>
    readReplSetView(status('rs0', 2, 3, [{ ...P }, { ...S2, applied: spec === S2 ? applied : BASE, self: spec === S2 }, { ...S3, applied: spec === S3 ? applied : BASE, self: spec === S3 }]));

  it('gives roles, term as timeline, positions, upstream and lag (primary optimeDate - member optimeDate)', () => {
    const probes: NodeProbe[] = [
      { node: n1, view: primaryView(BASE - 3, BASE - 12) },
      { node: n2, view: secondaryView(S2, BASE - 3) },
      { node: n3, view: secondaryView(S3, BASE - 12) },
    ];
    const [p, s2, s3] = nodeStatuses(probes);
    assert.deepEqual([p!.role, s2!.role, s3!.role], ['primary', 'replica', 'replica']);
    assert.deepEqual([p!.timeline, s2!.timeline], [3, 3]);
    assert.equal(p!.position, encodePosition({ term: 3, seconds: BASE, increment: 1 }));
    assert.equal(s2!.replayedPosition, encodePosition({ term: 3, seconds: BASE - 3, increment: 1 }));
    assert.equal(s2!.upstream, 'm1', 'syncSourceHost mapped to the node name');
    assert.equal(s3!.upstream, 'm2', 'a chained secondary streams from another secondary');
    assert.equal(s2!.lag?.replaySeconds, 3);
    assert.equal(s3!.lag?.replaySeconds, 12);
    assert.equal(s2!.lag?.replayBytes, undefined, 'MongoDB measures no bytes');
    assert.equal(p!.lag, undefined);
    assert.deepEqual([p!.readOnly, s2!.readOnly], [false, true]);
    assert.ok(comparePositions(s3!.replayedPosition!, p!.position!) < 0);
  });

  it('reads an idle set as 0 lag (the periodic no-op write keeps every optime equal)', () => {
    const [, s2, s3] = nodeStatuses([{ node: n1, view: primaryView(BASE, BASE) }, { node: n2, view: secondaryView(S2, BASE) }, { node: n3, view: secondaryView(S3, BASE) }]);
    assert.equal(s2!.lag?.replaySeconds, 0);
    assert.equal(s3!.lag?.replaySeconds, 0);
  });

  it('reads written (8.0+), journaled and applied stages as write, flush and replay lag', () => {
    const view = primaryView(BASE - 9, BASE, { written: BASE - 1, durable: BASE - 4 });
    const [, s2] = nodeStatuses([{ node: n1, view }, { node: n2, view: secondaryView(S2, BASE - 9) }]);
    assert.deepEqual([s2!.lag?.writeSeconds, s2!.lag?.flushSeconds, s2!.lag?.replaySeconds], [1, 4, 9]);
  });

  it('reports an unreachable node as reachable: false with how the set sees it', () => {
    const view = readReplSetView(status('rs0', 1, 3, [{ ...P, self: true }, { ...S2 }, { ...S3, down: true }]));
    const [, , s3] = nodeStatuses([{ node: n1, view }, { node: n2, view: secondaryView(S2, BASE) }, { node: n3, error: 'connect ECONNREFUSED 10.0.0.3:27017' }]);
    assert.equal(s3!.reachable, false);
    assert.equal(s3!.role, 'unknown');
    assert.match(s3!.error!, /ECONNREFUSED.*the set sees it as \(not reachable\/healthy\).*Connection refused/);
  });

  it('has no lag without a primary, and keeps each member\'s own term', () => {
    const noPrimary = (self: MemberSpec) => readReplSetView(status('rs0', 2, 4, [{ ...P, down: true }, { ...S2, self: self === S2 }, { ...S3, self: self === S3 }]));
    const [p, s2] = nodeStatuses([{ node: n1, error: 'connection refused' }, { node: n2, view: noPrimary(S2) }, { node: n3, view: noPrimary(S3) }]);
    assert.equal(p!.reachable, false);
    assert.equal(s2!.lag, undefined);
    assert.equal(s2!.timeline, 4);
  });

  it('reads lag from the newest primary when a deposed one still answers', () => {
    const stale = readReplSetView(status('rs0', 1, 3, [{ ...P, self: true }, { ...S2, applied: BASE - 30 }, { ...S3, applied: BASE - 30 }]));
    const fresh = readReplSetView(status('rs0', 1, 4, [{ ...P, state: 2, stateStr: 'SECONDARY', applied: BASE }, { ...S2, state: 1, stateStr: 'PRIMARY', self: true, applied: BASE + 5 }, { ...S3, applied: BASE + 2 }]));
    assert.equal(referenceView([{ node: n1, view: stale }, { node: n2, view: fresh }]), fresh);
    const statuses = nodeStatuses([{ node: n1, view: stale }, { node: n2, view: fresh }, { node: n3, view: secondaryView(S3, BASE + 2) }]);
    assert.deepEqual(statuses.map((s) => [s.role, s.timeline]), [['primary', 3], ['primary', 4], ['replica', 3]]);
    assert.equal(statuses[2]!.lag?.replaySeconds, 3);
  });

  it('says so when a node is configured under another name than the set uses, or is no member', () => {
    const localhost = node('local', 'localhost', 27017);
    const view = readReplSetView(status('rs0', 1, 3, [{ ...P, self: true }]));
    const [s] = nodeStatuses([{ node: localhost, view }]);
    assert.match(s!.error!, /the set names it "db1.example.net:27017", not localhost:27017/);
    const [a] = nodeStatuses([{ node: n1, view }, { node: node('x', 'db9', 27017), error: 'refused' }].slice(1) as NodeProbe[]);
    assert.doesNotMatch(a!.error!, /not a member/, 'no reference view, nothing to compare with');
    const [, b] = nodeStatuses([{ node: n1, view }, { node: node('x', 'db9', 27017), error: 'refused' }]);
    assert.match(b!.error!, /not a member of replica set "rs0" \(members: db1.example.net:27017\)/);
  });

  it('marks a standalone that answered as reachable, not a member', () => {
    const [s] = nodeStatuses([{ node: n1, error: 'not a replica set member', answered: true }]);
    assert.deepEqual([s!.reachable, s!.role], [true, 'unknown']);
  });
});

describe('member names', () => {
  it('matches host:port case-insensitively, IPv6 in brackets, 27017 by default', () => {
    assert.equal(memberName('DB1.Example.net', 27017), 'db1.example.net:27017');
    assert.equal(memberName('::1', 27018), '[::1]:27018');
    assert.ok(sameMember('DB1.example.net:27017', 'db1.example.net:27017'));
    assert.ok(!sameMember('localhost:27017', '127.0.0.1:27017'));
    assert.deepEqual(splitMemberName('[::1]:27018'), { host: '::1', port: 27018 });
    assert.deepEqual(splitMemberName('db1'), { host: 'db1', port: 27017 });
  });
});

describe('a switchover target preferred by priority', () => {
  const config = {
    _id: 'rs0', version: 6, term: 3, protocolVersion: Long.fromNumber(1),
    members: [
      { _id: 0, host: 'db1.example.net:27017', arbiterOnly: false, hidden: false, priority: 2, votes: 1 },
      { _id: 1, host: 'db2.example.net:27017', arbiterOnly: false, hidden: false, priority: 1, votes: 1 },
      { _id: 2, host: 'db3.example.net:27017', arbiterOnly: true, hidden: false, priority: 0, votes: 1 },
      { _id: 3, host: 'db4.example.net:27017', arbiterOnly: false, hidden: true, priority: 0, votes: 1 },
    ],
    settings: { electionTimeoutMillis: 10000 },
  };

  it('raises the target above every other member, bumps the version, leaves the term to the primary', () => {
    const raised = preferMember(config, 'DB2.example.net:27017')!;
    assert.equal(raised.version, 7);
    assert.equal('term' in raised, false);
    assert.deepEqual(raised.members.map((m: Document) => m.priority), [2, 3, 0, 0]);
    assert.deepEqual(raised.settings, config.settings);
    assert.equal(config.members[1]!.priority, 1, 'the input is not changed');
  });

  it('changes nothing when the target already has the highest priority', () => {
    assert.equal(preferMember(config, 'db1.example.net:27017'), undefined);
  });

  it('refuses members elections can never pick, and non-members', () => {
    assert.throws(() => preferMember(config, 'db3.example.net:27017'), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /arbiter/.test(e.message));
    assert.throws(() => preferMember(config, 'db4.example.net:27017'), /hidden/);
    assert.throws(() => preferMember(config, 'db9:27017'), /not a member of replica set "rs0".*rs.add/);
  });
});

describe('replSetStepDown timing and errors', () => {
  it('gives the catch-up at most half the time, 1-10 s, and a longer step-down period', () => {
    assert.deepEqual(stepDownTiming(60_000), { stepDownSecs: 60, catchUpSecs: 10 });
    assert.deepEqual(stepDownTiming(8_000), { stepDownSecs: 60, catchUpSecs: 4 });
    assert.deepEqual(stepDownTiming(1_000), { stepDownSecs: 60, catchUpSecs: 1 });
  });

  const server = (code: number, codeName: string, errmsg: string) => new MongoServerError({ ok: 0, code, codeName, errmsg, message: errmsg });

  it('maps "no electable secondaries caught up" to no-candidate: nothing changed', () => {
    const error = mapReplicationError(server(262, 'ExceededTimeLimit', 'No electable secondaries caught up as of 2026-12-05T05:00:00.000+00:00. Please use the replSetStepDown command with the argument {force: true} to force node to step down.'), { node: 'm1', step: 'step-down', catchUpSecs: 10 });
    assert.equal(error.reason, 'no-candidate');
    assert.equal(error.node, 'm1');
    assert.match(error.message, /within 10 s, so it stayed primary and nothing changed/);
    assert.match(error.message, /never forces a step-down/);
  });

  it('maps NotWritablePrimary, ExceededTimeLimit elsewhere, Unauthorized and an unreachable member', () => {
    assert.equal(mapReplicationError(server(10107, 'NotWritablePrimary', 'not primary so can\'t step down'), { node: 'm2', step: 'step-down' }).reason, 'not-a-primary');
    assert.equal(mapReplicationError(server(262, 'ExceededTimeLimit', 'operation exceeded time limit'), { node: 'm1', step: 'replSetReconfig' }).reason, 'timeout');
    const denied = mapReplicationError(server(13, 'Unauthorized', 'not authorized on admin to execute command'), { node: 'm1', step: 'step-down' });
    assert.deepEqual([denied.reason, /clusterManager/.test(denied.message)], ['refused', true]);
    const selection = new MongoServerSelectionError('connect ECONNREFUSED 127.0.0.1:1', { type: 'Unknown', servers: new Map(), stale: false, compatible: true, heartbeatFrequencyMS: 10000, localThresholdMS: 15 } as never);
    assert.equal(mapReplicationError(selection, { node: 'm3', step: 'fence' }).reason, 'unreachable');
    const kept = new ReplicationError('timeout', 'x');
    assert.equal(mapReplicationError(kept, { node: 'm1', step: 's' }), kept);
  });
});

describe('sync settings as the default write concern', () => {
  const sync = (count: number, method: 'any' | 'first' = 'any') => ({ mode: 'sync' as const, method, count, standbys: ['m2', 'm3'] });

  it('is w: "majority" in sync mode, a larger count when asked for more, w: 1 in async mode', () => {
    assert.deepEqual(writeConcernFor(sync(1), 2, 'm1'), { w: 'majority' });
    assert.deepEqual(writeConcernFor(sync(0), 3, 'm1'), { w: 'majority' }, 'never fewer than a majority: fewer can be rolled back');
    assert.deepEqual(writeConcernFor(sync(3), 2, 'm1'), { w: 4 });
    assert.deepEqual(writeConcernFor({ ...sync(1), mode: 'async' }, 2, 'm1'), { w: 1 });
  });

  it('refuses an ordered list, which MongoDB cannot express', () => {
    assert.throws(() => writeConcernFor(sync(1, 'first'), 2, 'm1'), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /syncMethod "any"/.test(e.message));
  });

  it('reads getDefaultRWConcern back, the implicit default being majority', () => {
    assert.deepEqual(syncSettingsInForce({ defaultWriteConcern: { w: 'majority', wtimeout: 0 } }, 3, ['m2']), { mode: 'sync', method: 'any', count: 2, standbys: ['m2'] });
    assert.deepEqual(syncSettingsInForce({ defaultWriteConcernSource: 'implicit' }, 2, []), { mode: 'sync', method: 'any', count: 1, standbys: [] });
    assert.equal(syncSettingsInForce({ defaultWriteConcern: { w: 1 } }, 2, []).mode, 'async');
    assert.equal(syncSettingsInForce({ defaultWriteConcern: { w: Long.fromNumber(3) } }, 2, []).count, 2);
  });
});

describe('direct connections to one member', () => {
  it('replaces the URL\'s hosts by the node, keeps its options, drops the set discovery, keeps credentials out of the URL', () => {
    const n = node('m2', 'db2.example.net', 27018, 'mongodb://app:s3cret@db1.example.net:27017,db2.example.net:27018/shop?replicaSet=rs0&authSource=admin&w=majority');
    const { url, options } = nodeConnectionPlan(n, 2500);
    assert.equal(url, 'mongodb://db2.example.net:27018/shop?authSource=admin&w=majority');
    assert.equal(options.directConnection, true);
    assert.equal(options.replicaSet, undefined);
    assert.equal(options.serverSelectionTimeoutMS, 2500);
    assert.deepEqual(options.auth, { username: 'app', password: 's3cret' });
    assert.doesNotMatch(url, /s3cret/);
  });

  it('keeps TLS on for a mongodb+srv URL and builds a URL for a node given by host and port', () => {
    const srv = node('m1', 'shard-00-01.abc.mongodb.net', 27017, 'mongodb+srv://app:pw@cluster0.abc.mongodb.net/shop?retryWrites=true');
    assert.equal(nodeConnectionPlan(srv, 1000).url, 'mongodb://shard-00-01.abc.mongodb.net:27017/shop?retryWrites=true&tls=true');
    assert.equal(nodeConnectionPlan(n3, 1000).url, 'mongodb://db3.example.net:27017/');
  });
});

describe('the mongodb engine\'s replication part', () => {
  const driver = getEngine('mongodb').parts.replication!;

  it('leaves authority to the replica set\'s elections and has a native switchover', () => {
    assert.equal(driver.authority, 'engine');
    assert.equal(typeof driver.nativeSwitchover, 'function');
  });

  it('refuses the steps MongoDB does itself, saying what it does instead', async () => {
    await assert.rejects(driver.createReplica(n1, n2, { slot: 's', timeoutMs: 1000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /rs\.add/.test(e.message));
    await assert.rejects(driver.stopWrites(n1, { timeoutMs: 1000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused' && /replSetStepDown/.test(e.message));
    await assert.rejects(driver.resumeWrites(n1, { timeoutMs: 1000 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'refused');
  });

  it('refuses a switchover with less time than a step-down needs, before touching any server', async () => {
    await assert.rejects(driver.nativeSwitchover!(n1, n2, { timeoutMs: 500 }), (e: unknown) => e instanceof ReplicationError && e.reason === 'timeout' && /at least 3000 ms/.test(e.message));
  });
});
