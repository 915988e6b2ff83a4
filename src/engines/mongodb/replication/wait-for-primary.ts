import { setTimeout as sleep } from 'node:timers/promises';
import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { sameMember } from './member-name.js';
import type { NodeClients } from './node-clients.js';

const POLL_MS = 250;

export interface PrimaryWanted {
  /** The member that stepped down: a primary only counts when it is another one. */
  readonly not?: string;
  /** The member a switchover aims at; absent: any new primary will do. */
  readonly target?: string;
}

/**
 * Polls `hello` on every member until one says it is the writable primary and is the one wanted; returns its member
 * name (hello's `me`). Elections decide who wins: at the deadline this says who, if anyone, did.
 */
export async function waitForPrimary(clients: NodeClients, members: readonly ReplicationNode[], wanted: PrimaryWanted, deadline: number): Promise<string> {
  let seen: string | undefined;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const probeMs = Math.max(1, Math.min(1000, remaining));
    const replies = await Promise.all(members.map((m) => clients.admin(m, { hello: 1 }, 'wait-for-primary', probeMs).catch(() => undefined)));
    const primaries = replies.filter((r) => r && (r.isWritablePrimary === true || r.ismaster === true)).map((r) => String(r!.me ?? ''));
    seen = primaries.find((p) => !wanted.not || !sameMember(p, wanted.not)) ?? seen;
    const match = primaries.find((p) => (!wanted.not || !sameMember(p, wanted.not)) && (!wanted.target || sameMember(p, wanted.target)));
    if (match) return match;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
  if (wanted.target && seen) {
    throw new ReplicationError(
      'timeout',
      `the replica set elected ${seen}, not ${wanted.target}, before the deadline; ${wanted.target} now has the highest priority, so it takes over (a priority takeover) once it has caught up`,
      { node: wanted.target, step: 'wait-for-primary' },
    );
  }
  throw new ReplicationError(
    'timeout',
    `no ${wanted.not ? 'new ' : ''}primary was elected before the deadline; a majority of the voting members must be up and able to see each other (check rs.status())`,
    { step: 'wait-for-primary', ...(wanted.target ? { node: wanted.target } : {}) },
  );
}
