import type { NodeRole, NodeStatus, ReplicationNode } from '../../../replication/replication-part.js';
import { encodePosition } from './optime-position.js';
import { isNode, sameMember } from './member-name.js';
import { MemberState, type MemberView, type ReplSetView } from './repl-set-view.js';
import { replicaLag } from './replica-lag.js';

/** What asking one node for replSetGetStatus produced: its view of the set, or why it could not answer. */
export type NodeProbe =
  | { readonly node: ReplicationNode; readonly view: ReplSetView }
  /** `answered`: the server replied but is no replica set member (a standalone, or a set not yet initiated). */
  | { readonly node: ReplicationNode; readonly error: string; readonly answered?: boolean };

/**
 * The view the set's lag and states are read from: the primary's own reply (highest term when a stale primary still
 * answers too), else a reply that can see a primary, else the one with the highest term. Views are seconds apart at
 * most (heartbeats), and one view keeps the primary's and the members' optimes comparable.
 */
export function referenceView(probes: readonly NodeProbe[]): ReplSetView | undefined {
  const views = probes.flatMap((p) => ('view' in p ? [p.view] : []));
  const byTerm = (list: ReplSetView[]) => list.sort((a, b) => (b.term ?? -1) - (a.term ?? -1))[0];
  return byTerm(views.filter((v) => v.myState === MemberState.PRIMARY)) ?? byTerm(views.filter((v) => v.primary !== undefined)) ?? byTerm([...views]);
}

/** One NodeStatus per node, in the nodes' order; an unreachable node is `reachable: false` with the set's view of it. */
export function nodeStatuses(probes: readonly NodeProbe[]): NodeStatus[] {
  const reference = referenceView(probes);
  const nodes = probes.map((p) => p.node);
  return probes.map((probe) => ('view' in probe ? reachableStatus(probe.node, probe.view, reference, nodes) : unreachableStatus(probe.node, probe.error, reference, probe.answered === true)));
}

function reachableStatus(node: ReplicationNode, own: ReplSetView, reference: ReplSetView | undefined, nodes: readonly ReplicationNode[]): NodeStatus {
  const role = roleOf(own.myState);
  const self = own.self;
  const problems: string[] = [];
  if (reference && reference.set !== own.set) problems.push(`it belongs to replica set "${own.set}", the others to "${reference.set}"`);
  if (self && !isNode(node, self.name)) {
    problems.push(`the set names it "${self.name}", not ${node.host}:${node.port}; configure the node with the host and port rs.conf() lists, or give it name "${self.name}"`);
  }
  const status: { -readonly [K in keyof NodeStatus]: NodeStatus[K] } = {
    name: node.name,
    reachable: true,
    role,
    streamState: self?.stateStr ?? stateName(own.myState),
    readOnly: role !== 'primary',
  };
  if (problems.length) status.error = problems.join('; ');
  if (own.term !== undefined) status.timeline = own.term;
  if (role === 'primary' && own.ownApplied) status.position = encodePosition(own.ownApplied);
  if (role === 'replica') {
    const received = own.ownWritten ?? own.ownDurable ?? own.ownApplied;
    if (received) status.receivedPosition = encodePosition(received);
    if (own.ownApplied) status.replayedPosition = encodePosition(own.ownApplied);
    if (self?.syncSource) status.upstream = nodes.find((n) => isNode(n, self.syncSource!))?.name ?? self.syncSource;
    const primary = reference?.primary;
    const seen = self && reference ? reference.members.find((m) => sameMember(m.name, self.name)) : undefined;
    const lag = primary && seen ? replicaLag(primary, seen) : undefined;
    if (lag) status.lag = lag;
  }
  return status;
}

function unreachableStatus(node: ReplicationNode, error: string, reference: ReplSetView | undefined, answered: boolean): NodeStatus {
  const seen: MemberView | undefined = reference?.members.find((m) => isNode(node, m.name));
  let detail = error;
  if (reference && !seen) detail += `; it is not a member of replica set "${reference.set}" (members: ${reference.members.map((m) => m.name).join(', ')})`;
  else if (seen) detail += `; the set sees it as ${seen.stateStr}${seen.heartbeatMessage ? ` (${seen.heartbeatMessage})` : ''}`;
  return { name: node.name, reachable: answered, role: 'unknown', error: detail };
}

/** RECOVERING, STARTUP2 (initial sync) and ROLLBACK members are replicas that cannot serve yet; arbiters hold no data. */
function roleOf(state: number): NodeRole {
  if (state === MemberState.PRIMARY) return 'primary';
  if (state === MemberState.SECONDARY || state === MemberState.RECOVERING || state === MemberState.STARTUP2 || state === MemberState.ROLLBACK) return 'replica';
  return 'unknown';
}

function stateName(state: number): string {
  return Object.entries(MemberState).find(([, n]) => n === state)?.[0] ?? `state ${state}`;
}
