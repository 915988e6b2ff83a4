import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { ReplicationError } from '../../../errors/replication-error.js';
import type { CreateReplicaOptions, ReplicationNode } from '../../../replication/replication-part.js';
import { assertReachableBy, serverOsUser } from '../backup/server-os-user.js';
import { streamingConninfo } from './conninfo.js';
import { startServer } from './local-server.js';
import { messageOf, withNode } from './node-session.js';
import { runPgTool } from './pg-tool.js';
import { writeStandbyConfig } from './standby-config.js';
import { remaining } from './wait-until.js';
import { waitUntilStreaming } from './wait-streaming.js';

/**
 * pg_basebackup of `primary` into the replica's (empty) data directory, with WAL streamed alongside (-X stream) and a
 * physical slot created for it (-C -S), then the standby configuration (application_name = the replica's name), then
 * pg_ctl start on the replica's port, and a wait until it streams; all within `timeoutMs`.
 */
export async function createReplica(primary: ReplicationNode, replica: ReplicationNode, options: CreateReplicaOptions): Promise<void> {
  const start = Date.now();
  const step = 'create replica';
  const fail = (message: string) => new ReplicationError('refused', `${replica.name}: ${message}`, { node: replica.name, step });
  if (options.fromBackup !== undefined) throw fail('creating a replica from a datakeep backup (fromBackup) is not yet supported; leave it out to copy from the primary');
  const dataDir = replica.dataDir;
  if (dataDir === undefined) throw fail('dataDir is not set; a replica is created on this machine, in the dataDir given for it');
  if (!/^[a-z0-9_]{1,63}$/.test(options.slot)) throw fail(`slot: "${options.slot}" is not a replication slot name (lower-case letters, digits, _; at most 63)`);
  const user = serverOsUser();
  try {
    await assertReachableBy(user, dataDir, `replica ${replica.name}`);
  } catch (error) {
    throw fail(messageOf(error).replace('restore into', 'create the replica in'));
  }
  if (existsSync(dataDir)) {
    const entries = readdirSync(dataDir);
    if (entries.length > 0) throw fail(`dataDir ${dataDir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}); give an empty or missing directory, nothing was changed`);
  }
  if (await isListening(replica.host, replica.port)) throw fail(`port ${replica.port} on ${replica.host} already accepts connections; give the replica a free port`);

  // A slot left by an earlier replica of this name is reused (pg_basebackup -C would refuse it); one in use is not.
  const slotExists = await withNode(primary, 'create replica (check slot)', remaining(start, options.timeoutMs), async (session) => {
    const [row] = await session.query<{ active: boolean; slot_type: string }>('SELECT active, slot_type FROM pg_replication_slots WHERE slot_name = $1', [options.slot]);
    if (row && (row.active || row.slot_type !== 'physical')) throw fail(`slot ${options.slot} on ${primary.name} is ${row.active ? 'in use by another standby' : `a ${row.slot_type} slot`}; choose another slot or node name`);
    return row !== undefined;
  });

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  chownSync(dataDir, user.uid, user.gid);

  const progress = (chunk: string) => {
    // pg_basebackup -P prints "12345/67890 kB (18%), 0/1 tablespace" lines, separated by \r.
    for (const m of chunk.matchAll(/(\d+)\/(\d+) kB/g)) options.onProgress?.(Number(m[1]) * 1024, Number(m[2]) * 1024);
  };
  await runPgTool('pg_basebackup', [
    '-d', streamingConninfo(primary, replica.name, false),
    '-D', dataDir, '-X', 'stream', '-R', ...(slotExists ? [] : ['-C']), '-S', options.slot, '-c', 'fast', '-P',
  ], { node: replica.name, step: 'pg_basebackup', timeoutMs: remaining(start, options.timeoutMs), password: primary.config.password, onStderr: progress });

  // -R wrote a primary_conninfo without the password (it came from the environment) and without our
  // application_name guarantee; write the standby configuration ourselves, with the slot -C made.
  writeStandbyConfig(replica, dataDir, primary, options.slot);
  await startServer(replica, dataDir, 'start replica', remaining(start, options.timeoutMs));
  await waitUntilStreaming(replica, primary, remaining(start, options.timeoutMs), 'wait until the new replica streams');
}

/** True when something accepts TCP connections on host:port (a server the new replica would collide with). */
function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
