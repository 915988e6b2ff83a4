import { ReplicationError } from '../errors/index.js';
import type { NodeStatus, ReplicationNode } from './replication-part.js';

/** What the choice is made from: the members, their status now, and what was last seen of the primary. */
export interface CandidateInput {
  readonly nodes: readonly ReplicationNode[];
  readonly statuses: readonly NodeStatus[];
  /** The primary being replaced. */
  readonly oldPrimary: string;
  /** The primary's position when it was last seen up; undefined when never seen (a CLI run after it died). */
  readonly lastPrimaryPosition: string | undefined;
  readonly mode: 'sync' | 'async';
  readonly syncMethod: 'any' | 'first';
  readonly syncCount: number;
  /** The standbys the primary last reported as sync or quorum (sync mode), by name. */
  readonly lastSyncStandbys: readonly string[];
  /** Every member allowed to be synchronous (ReplicationNode.sync), by name. */
  readonly syncEligible: readonly string[];
  readonly maximumLag: number;
  readonly regions: readonly string[] | undefined;
  /** A member asked for by name; the choice checks it rather than picking. */
  readonly target?: string;
  /** Skip the checks that guard against losing acknowledged writes (the user accepts the loss). */
  readonly force?: boolean;
  /**
   * A switchover: the primary is up and the candidate replays everything before it is promoted, so neither the sync
   * coverage nor a target behind another can lose a write, and neither is checked.
   */
  readonly planned?: boolean;
  readonly compare: (a: string, b: string) => number;
  readonly distance: (from: string, to: string) => number;
}

export interface ConsideredMember {
  readonly name: string;
  readonly eligible: boolean;
  /** Why not eligible, or how it ranks. */
  readonly reason: string;
  readonly position?: string;
}

export interface CandidateChoice {
  readonly node: ReplicationNode;
  readonly position: string;
  readonly considered: readonly ConsideredMember[];
  /** Warnings the caller must show (a forced choice that may lose writes). */
  readonly warnings: readonly string[];
}

/**
 * Chooses the replica to promote, as Patroni does, with the rules that keep acknowledged writes: only reachable
 * replicas on the newest timeline, none more than `maximumLag` behind the primary's last position; the most advanced
 * first (received WAL), then synchronous ones, then preferred regions, then priority. In sync mode enough of the
 * synchronous standbys must be reachable that every acknowledged commit is on one of them (for ANY k of N: N - k + 1;
 * for FIRST k: one the primary last called sync); otherwise the choice is refused unless `force`.
 */
export function chooseCandidate(input: CandidateInput): CandidateChoice {
  const byName = new Map(input.statuses.map((s) => [s.name, s]));
  const considered: ConsideredMember[] = [];
  const eligible: { node: ReplicationNode; status: NodeStatus; position: string }[] = [];
  const newestTimeline = Math.max(0, ...input.statuses.filter((s) => s.reachable && s.role === 'replica').map((s) => s.timeline ?? 0));
  const reachablePositions = input.statuses.filter((s) => s.reachable && s.role === 'replica').map(positionOf).filter((p): p is string => p !== undefined);
  const reference = input.lastPrimaryPosition ?? reachablePositions.reduce<string | undefined>((best, p) => (best === undefined || input.compare(p, best) > 0 ? p : best), undefined);

  for (const node of input.nodes) {
    if (node.name === input.oldPrimary) continue;
    const status = byName.get(node.name);
    const position = status ? positionOf(status) : undefined;
    const refuse = (reason: string) => considered.push({ name: node.name, eligible: false, reason, position });
    if (!status || !status.reachable) refuse(`unreachable${status?.error ? `: ${status.error}` : ''}`);
    else if (status.role !== 'replica') refuse(`is not a replica (${status.role})`);
    else if (position === undefined) refuse('reports no received position');
    else if ((status.timeline ?? 0) < newestTimeline) refuse(`is on timeline ${status.timeline}, behind timeline ${newestTimeline}`);
    else if (input.regions !== undefined && (node.region === undefined || !input.regions.includes(node.region))) refuse(`its region ${node.region ?? '(none)'} is not in failoverRegions`);
    else {
      const lag = reference === undefined ? 0 : input.distance(position, reference);
      if (lag > input.maximumLag && !input.force) refuse(`is ${lag} bytes behind, more than maximumLagOnFailover (${input.maximumLag})`);
      else {
        eligible.push({ node, status, position });
        considered.push({ name: node.name, eligible: true, reason: `received ${position}, ${lag} bytes behind`, position });
      }
    }
  }

  const warnings: string[] = [];
  if (input.mode === 'sync' && !input.planned) {
    const problem = syncCoverageProblem(input, byName);
    if (problem !== undefined) {
      if (!input.force) {
        throw new ReplicationError('no-candidate', `${problem}, so promoting any replica could lose acknowledged writes. Bring them back, or fail over with force to accept the loss`, { step: 'choose candidate' });
      }
      warnings.push(`${problem}: forced, acknowledged writes may be lost`);
    }
  }

  const regionRank = (node: ReplicationNode) => (input.regions === undefined || node.region === undefined ? 0 : input.regions.indexOf(node.region));
  const wasSync = (name: string) => (input.lastSyncStandbys.includes(name) ? 0 : 1);
  eligible.sort(
    (a, b) =>
      (b.status.timeline ?? 0) - (a.status.timeline ?? 0) ||
      input.compare(b.position, a.position) ||
      wasSync(a.node.name) - wasSync(b.node.name) ||
      regionRank(a.node) - regionRank(b.node) ||
      a.node.priority - b.node.priority,
  );

  if (input.target !== undefined) {
    const chosen = eligible.find((e) => e.node.name === input.target);
    if (!chosen) {
      const why = considered.find((c) => c.name === input.target)?.reason ?? (input.target === input.oldPrimary ? 'is the primary being replaced' : 'is not a member');
      throw new ReplicationError('no-candidate', `${input.target} cannot be promoted: ${why}`, { node: input.target, step: 'choose candidate' });
    }
    const best = eligible[0]!;
    if (!input.planned && input.compare(chosen.position, best.position) < 0) {
      const behind = input.distance(chosen.position, best.position);
      if (!input.force) {
        throw new ReplicationError('no-candidate', `${input.target} is ${behind} bytes behind ${best.node.name}; promoting it would discard what only ${best.node.name} received. Choose ${best.node.name}, wait for ${input.target} to catch up, or use force`, { node: input.target, step: 'choose candidate' });
      }
      warnings.push(`${input.target} is ${behind} bytes behind ${best.node.name}: forced`);
    }
    return { node: chosen.node, position: chosen.position, considered, warnings };
  }
  const best = eligible[0];
  if (!best) {
    throw new ReplicationError('no-candidate', `no replica can be promoted: ${considered.map((c) => `${c.name} ${c.reason}`).join('; ') || 'there are no replicas'}`, { step: 'choose candidate' });
  }
  return { node: best.node, position: best.position, considered, warnings };
}

function positionOf(status: NodeStatus): string | undefined {
  return status.receivedPosition ?? status.replayedPosition;
}

/**
 * Why the reachable replicas may not hold every acknowledged commit in sync mode, or undefined when they do. With
 * ANY k of N synchronous standbys a commit is on at least k of them, so any N - k + 1 of them hold all commits; with
 * FIRST k the primary named which standbys were synchronous, and one of those must be reachable.
 */
function syncCoverageProblem(input: CandidateInput, byName: ReadonlyMap<string, NodeStatus>): string | undefined {
  const reachable = (name: string) => {
    const s = byName.get(name);
    return s !== undefined && s.reachable && s.role === 'replica';
  };
  // The primary's last report says which standbys were connected and confirming; without one (a CLI run after the
  // primary died) every standby allowed to be synchronous counts.
  const listed = input.lastPrimaryPosition !== undefined && input.lastSyncStandbys.length > 0 ? input.lastSyncStandbys : input.syncEligible;
  const standbys = listed.filter((n) => n !== input.oldPrimary);
  if (input.syncMethod === 'any') {
    const needed = standbys.length - input.syncCount + 1;
    const up = standbys.filter(reachable).length;
    return up >= needed ? undefined : `only ${up} of the ${standbys.length} synchronous standbys are reachable and ${needed} are needed to see every commit (ANY ${input.syncCount})`;
  }
  const lastSync = input.lastSyncStandbys.filter((n) => n !== input.oldPrimary);
  if (lastSync.length === 0) return input.lastPrimaryPosition === undefined ? undefined : 'the primary reported no synchronous standby when last seen';
  return lastSync.some(reachable) ? undefined : `none of the standbys the primary last called synchronous (${lastSync.join(', ')}) is reachable`;
}
