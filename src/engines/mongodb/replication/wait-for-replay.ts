import { setTimeout as sleep } from 'node:timers/promises';
import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { describeError, withNodeClients } from './node-clients.js';
import { comparePositions, decodePosition, encodePosition } from './optime-position.js';
import { readReplSetView } from './repl-set-view.js';

const POLL_MS = 200;

/** Polls the member's own applied optime (replSetGetStatus optimes.appliedOpTime) until it reaches `position`. */
export async function waitForReplay(replica: ReplicationNode, position: string, timeoutMs: number): Promise<void> {
  decodePosition(position);
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing yet';
  await withNodeClients(timeoutMs, async (clients) => {
    while (Date.now() < deadline) {
      try {
        const view = readReplSetView(await clients.admin(replica, { replSetGetStatus: 1 }, 'wait-for-replay', Math.max(1, deadline - Date.now())));
        if (view.ownApplied) {
          last = encodePosition(view.ownApplied);
          if (comparePositions(last, position) >= 0) return;
        }
      } catch (error) {
        if (error instanceof ReplicationError && error.reason === 'timeout') break;
        last = `unreachable: ${describeError(error)}`;
      }
      await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    }
    throw new ReplicationError('timeout', `${replica.name} did not apply up to ${position} within ${timeoutMs} ms (last applied: ${last})`, { node: replica.name, step: 'wait-for-replay' });
  });
}
