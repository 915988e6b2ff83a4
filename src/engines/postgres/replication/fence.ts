import type { FenceResult, ReplicationNode } from '../../../replication/replication-part.js';
import { isServerRunning, localDataDir, stopServer } from './local-server.js';
import { withNode } from './node-session.js';
import { writeStandbyConfig } from './standby-config.js';
import { remaining } from './wait-until.js';
import { setWritesAllowed } from './write-gate.js';

/**
 * Makes `node` unable to accept writes. With its data directory here: stopped if running (fast, then immediate) and
 * configured as a standby of `newPrimary`, so that any restart comes up read-only (durable). Without: if reachable,
 * read-only by configuration with its client sessions ended (not durable: a session may still turn it off); if
 * unreachable, nothing can be done from here.
 */
export async function fence(node: ReplicationNode, newPrimary: ReplicationNode | undefined, timeoutMs: number): Promise<FenceResult> {
  const start = Date.now();
  const dataDir = localDataDir(node);
  if (dataDir !== undefined) {
    const actions: string[] = [];
    if (await isServerRunning(node, dataDir, timeoutMs)) actions.push(...(await stopServer(node, dataDir, 'fence (stop)', remaining(start, timeoutMs))));
    actions.push(...writeStandbyConfig(node, dataDir, newPrimary));
    return { actions, durable: true };
  }
  const probe = await withNode(node, 'fence', Math.min(timeoutMs, 3_000), async (session) => {
    const [row] = await session.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (row?.recovering) return { actions: ['already in recovery (read-only)'], durable: true };
    return { actions: await setWritesAllowed(node, session, false, remaining(start, timeoutMs)), durable: false };
  }).catch(() => undefined);
  return probe ?? { actions: [], durable: false };
}
