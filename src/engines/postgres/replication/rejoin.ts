import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ReplicationError } from '../../../errors/replication-error.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { streamingConninfo } from './conninfo.js';
import { ensurePhysicalSlot } from './ensure-slot.js';
import { checkpointNewTimeline } from './checkpoint-timeline.js';
import { clearStaleLock, controlData, isServerRunning, localDataDir, startServer, stopServer } from './local-server.js';
import { runPgTool } from './pg-tool.js';
import { replicationSlotName } from './slot-name.js';
import { writeStandbyConfig } from './standby-config.js';
import { remaining } from './wait-until.js';
import { waitUntilStreaming } from './wait-streaming.js';

/**
 * Brings a former primary back as a replica of `newPrimary`: stopped, rewound with pg_rewind onto the new primary's
 * history (a no-op when it had nothing the new primary lacks), configured as a standby with its own slot there,
 * started, and waited for until it streams.
 */
export async function rejoin(node: ReplicationNode, newPrimary: ReplicationNode, timeoutMs: number): Promise<{ rewound: boolean }> {
  const start = Date.now();
  const step = 'rejoin';
  const dataDir = localDataDir(node);
  if (dataDir === undefined) {
    throw new ReplicationError('local-only', `${node.name}: rejoin needs the node's data directory on this machine (dataDir${node.dataDir ? ` ${node.dataDir} has no cluster` : ' is not set'}); rebuild it as a new replica instead`, { node: node.name, step });
  }
  const control = await controlData(node, dataDir, timeoutMs);
  if (control.get('wal_log_hints setting') !== 'on' && (control.get('Data page checksum version') ?? '0') === '0') {
    throw new ReplicationError('refused', `${node.name}: pg_rewind needs wal_log_hints = on or data checksums, and ${dataDir} has neither; set wal_log_hints = on on every node (a restart applies it) or enable checksums with pg_checksums --enable while it is stopped, then rebuild this node as a new replica`, { node: node.name, step });
  }
  if (await isServerRunning(node, dataDir, remaining(start, timeoutMs))) await stopServer(node, dataDir, 'rejoin (stop)', remaining(start, timeoutMs));

  const slot = replicationSlotName(node.name);
  // Before the rewind: the slot keeps the new primary's WAL from here on, which the rewound node replays from.
  await ensurePhysicalSlot(newPrimary, slot, remaining(start, timeoutMs));
  // pg_rewind recovers a target that crashed in single-user mode, which refuses a standby configuration.
  for (const signal of ['standby.signal', 'recovery.signal']) rmSync(join(dataDir, signal), { force: true });
  clearStaleLock(dataDir, node.port);
  await checkpointNewTimeline(newPrimary, remaining(start, timeoutMs));
  const result = await runPgTool('pg_rewind', ['--target-pgdata', dataDir, '--source-server', streamingConninfo(newPrimary, undefined, false)],
    { node: node.name, step: 'pg_rewind', timeoutMs: remaining(start, timeoutMs), password: newPrimary.config.password });
  const rewound = !/no rewind required/i.test(`${result.stdout}\n${result.stderr}`);

  // Slots of the old primary were not touched by pg_rewind; kept, they would hold WAL on this standby forever.
  dropLocalDatakeepSlots(dataDir);
  writeStandbyConfig(node, dataDir, newPrimary, slot);
  await startServer(node, dataDir, 'rejoin (start)', remaining(start, timeoutMs));
  await waitUntilStreaming(node, newPrimary, remaining(start, timeoutMs), 'rejoin (wait until it streams)');
  return { rewound };
}

function dropLocalDatakeepSlots(dataDir: string): void {
  const dir = join(dataDir, 'pg_replslot');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith('datakeep_')) rmSync(join(dir, name), { recursive: true, force: true });
}
