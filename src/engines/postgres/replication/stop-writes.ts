import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { controlData, isServerRunning, localDataDir, startServer, stopServer } from './local-server.js';
import { withNode } from './node-session.js';
import { remaining } from './wait-until.js';
import { setWritesAllowed } from './write-gate.js';

/**
 * Switchover step 1. A local primary is shut down cleanly (fast): PostgreSQL sends its connected standbys all WAL up
 * to the shutdown checkpoint before it exits, and that checkpoint's location (pg_controldata) is the position they
 * must replay. A remote primary is made read-only with its client sessions ended, and its WAL position after that is
 * the one.
 */
export async function stopWrites(primary: ReplicationNode, timeoutMs: number): Promise<{ position: string }> {
  const start = Date.now();
  const step = 'stop writes';
  const dataDir = localDataDir(primary);
  if (dataDir !== undefined && (await isServerRunning(primary, dataDir, timeoutMs))) {
    await assertPrimary(primary, remaining(start, timeoutMs));
    await stopServer(primary, dataDir, step, remaining(start, timeoutMs));
    const control = await controlData(primary, dataDir, remaining(start, timeoutMs));
    const state = control.get('Database cluster state');
    const position = control.get('Latest checkpoint location');
    if (state !== 'shut down' || position === undefined) {
      throw new ReplicationError('failed', `${primary.name}: after the shutdown the cluster state is "${state ?? '?'}", not "shut down"; its replicas may lack its last WAL`, { node: primary.name, step });
    }
    return { position };
  }
  return withNode(primary, step, timeoutMs, async (session) => {
    const [role] = await session.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (role?.recovering) throw new ReplicationError('not-a-primary', `${primary.name} is in recovery (a replica); there are no writes to stop`, { node: primary.name, step });
    await setWritesAllowed(primary, session, false, remaining(start, timeoutMs));
    const [row] = await session.query<{ position: string }>('SELECT pg_current_wal_lsn()::text AS position');
    return { position: row!.position };
  });
}

/** Undoes stopWrites: starts a local primary it shut down, and resets default_transaction_read_only. */
export async function resumeWrites(primary: ReplicationNode, timeoutMs: number): Promise<void> {
  const start = Date.now();
  const dataDir = localDataDir(primary);
  if (dataDir !== undefined && !(await isServerRunning(primary, dataDir, timeoutMs))) {
    await startServer(primary, dataDir, 'resume writes (start)', remaining(start, timeoutMs));
  }
  await withNode(primary, 'resume writes', remaining(start, timeoutMs), async (session) => {
    const [row] = await session.query<{ recovering: boolean; ro: string }>(
      "SELECT pg_is_in_recovery() AS recovering, current_setting('default_transaction_read_only') AS ro");
    if (row?.recovering) throw new ReplicationError('not-a-primary', `${primary.name} came back in recovery (a replica); it was fenced or demoted, writes cannot resume there`, { node: primary.name, step: 'resume writes' });
    if (row?.ro === 'on') await setWritesAllowed(primary, session, true, remaining(start, timeoutMs));
  });
}

async function assertPrimary(node: ReplicationNode, timeoutMs: number): Promise<void> {
  await withNode(node, 'stop writes (check role)', timeoutMs, async (session) => {
    const [role] = await session.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (role?.recovering) throw new ReplicationError('not-a-primary', `${node.name} is in recovery (a replica); there are no writes to stop`, { node: node.name, step: 'stop writes' });
  });
}
