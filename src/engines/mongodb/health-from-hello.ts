import type { Document } from 'mongodb';
import { classifyTopology } from './classify-topology.js';

/** Replica-set members further behind the primary than this make the status `degraded`. */
export const DEFAULT_MAX_LAG_SECONDS = 10;

/** replSetGetStatus member states (https://www.mongodb.com/docs/manual/reference/replica-states/). */
const PRIMARY = 1;
const SECONDARY = 2;

export interface MemberFacts {
  readonly name: string;
  readonly state: string;
  readonly healthy: boolean;
  /** Seconds behind the primary's last applied operation; present for secondaries when the primary is known. */
  readonly lagSeconds?: number;
}

export interface MongoHealthFacts {
  readonly serverVersion?: string;
  /** True on a secondary: it applies the primary's oplog and refuses writes (PostgreSQL's "in recovery"). */
  readonly inRecovery: boolean;
  readonly reasons: string[];
  readonly details: Readonly<Record<string, unknown>>;
}

export interface HealthInputs {
  readonly hello: Document;
  readonly buildInfo?: Document;
  /** The replSetGetStatus reply, when the deployment is a replica set and the user may run it. */
  readonly replSetStatus?: Document;
  /** Why replSetGetStatus could not be read (typically missing clusterMonitor privileges). */
  readonly replSetStatusError?: string;
  readonly maxLagSeconds?: number;
}

/**
 * Turns `hello` (and, on a replica set, `replSetGetStatus`) into health facts: the member's role, the set name and
 * hosts, each member's state and replication lag. Lag is measured as the primary's `optimeDate` minus the member's,
 * which is how `rs.printSecondaryReplicationInfo()` reports it. A status without lag information is not degraded by
 * that alone; it says why in `details.lagUnavailable`.
 */
export function healthFromHello(inputs: HealthInputs): MongoHealthFacts {
  const { hello } = inputs;
  const maxLag = inputs.maxLagSeconds ?? DEFAULT_MAX_LAG_SECONDS;
  const topology = classifyTopology(hello);
  const reasons: string[] = [];
  const details: Record<string, unknown> = { topology: topology.kind, role: topology.role };
  if (topology.setName) details.setName = topology.setName;
  if (Array.isArray(hello.hosts)) details.hosts = hello.hosts.filter((h): h is string => typeof h === 'string');
  if (typeof hello.primary === 'string') details.primary = hello.primary;
  if (typeof hello.me === 'string') details.me = hello.me;
  if (typeof hello.maxWireVersion === 'number') details.maxWireVersion = hello.maxWireVersion;
  details.transactions = topology.transactions;

  if (topology.role === 'other') {
    reasons.push('this member is neither primary nor secondary (starting up, recovering, or removed from the set)');
  }
  if (topology.kind === 'replica-set' && typeof hello.primary !== 'string') {
    reasons.push(`replica set ${topology.setName} reports no primary: writes will fail until an election completes`);
  }

  if (topology.kind === 'replica-set') {
    if (inputs.replSetStatus) {
      const members = memberFacts(inputs.replSetStatus);
      details.members = members;
      const lags = members.flatMap((m) => (m.lagSeconds === undefined ? [] : [m.lagSeconds]));
      if (lags.length) details.maxLagSeconds = Math.max(...lags);
      for (const member of members) {
        if (!member.healthy) reasons.push(`member ${member.name} is unreachable (${member.state})`);
        else if (!['PRIMARY', 'SECONDARY', 'ARBITER'].includes(member.state)) reasons.push(`member ${member.name} is ${member.state}`);
        if (member.lagSeconds !== undefined && member.lagSeconds > maxLag) {
          reasons.push(`member ${member.name} is ${member.lagSeconds} s behind the primary (limit ${maxLag} s)`);
        }
      }
    } else {
      details.lagUnavailable = inputs.replSetStatusError ?? 'replSetGetStatus was not run';
    }
  }

  const version = inputs.buildInfo?.version;
  return {
    ...(typeof version === 'string' ? { serverVersion: version } : {}),
    inRecovery: topology.role === 'secondary',
    reasons,
    details,
  };
}

function memberFacts(status: Document): MemberFacts[] {
  const raw: unknown[] = Array.isArray(status.members) ? status.members : [];
  const members = raw.filter((m): m is Document => typeof m === 'object' && m !== null);
  const primary = members.find((m) => m.state === PRIMARY);
  const primaryTime = primary ? optimeMillis(primary) : undefined;
  return members.map((m) => {
    const name = typeof m.name === 'string' ? m.name : `member ${String(m._id)}`;
    const state = typeof m.stateStr === 'string' ? m.stateStr : `state ${String(m.state)}`;
    const healthy = m.health === undefined ? true : Number(m.health) === 1;
    const facts: { name: string; state: string; healthy: boolean; lagSeconds?: number } = { name, state, healthy };
    if (m.state === SECONDARY && primaryTime !== undefined) {
      const own = optimeMillis(m);
      if (own !== undefined) facts.lagSeconds = Math.max(0, Math.round((primaryTime - own) / 1000));
    }
    return facts;
  });
}

/** A member's last applied operation time in ms: `optimeDate`, else the seconds half of `optime.ts`. */
function optimeMillis(member: Document): number | undefined {
  const date: unknown = member.optimeDate;
  if (date instanceof Date) return date.getTime();
  if (typeof date === 'number' || typeof date === 'string') {
    const ms = new Date(date).getTime();
    return Number.isNaN(ms) ? undefined : ms;
  }
  const ts = (member.optime as { ts?: { getHighBits?: () => number; t?: number } } | undefined)?.ts;
  if (ts && typeof ts.getHighBits === 'function') return ts.getHighBits() * 1000;
  if (ts && typeof ts.t === 'number') return ts.t * 1000;
  return undefined;
}
