import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';

export interface WalStreamOptions {
  repository: Repository;
  /** A replication connection to the primary (the role needs REPLICATION). */
  connection: { host: string; port: number; user: string; password?: string };
  /** Where pg_receivewal writes; a directory of datakeep's own (it holds at most a few segments). */
  spoolDirectory: string;
  /** A physical replication slot, so the primary keeps the WAL the stream has not received (created if missing). */
  slot?: string;
  /** How often the segment being written is snapshotted into the repository (default 1000 ms). */
  intervalMs?: number;
  /** pg_receivewal to run; default the one of the server's major version (Debian's layout), else PATH. */
  pgReceivewal?: string;
  serverMajor?: number;
  signal: AbortSignal;
  onEvent?: (event: WalStreamEvent) => void;
}

export type WalStreamEvent =
  | { kind: 'snapshot'; name: string; bytes: number }
  | { kind: 'superseded'; name: string }
  | { kind: 'receiver-exited'; code: number | null; stderr: string };

/**
 * Continuous WAL streaming next to archive_command, as Barman's streaming does: pg_receivewal receives WAL over the
 * replication protocol as the primary writes it (--synchronous: flushed on receipt), and every `intervalMs` the
 * segment it is writing is stored in the repository as `<segment>.stream`, replacing the previous snapshot. A restore
 * replays such a snapshot where the archive has no complete segment yet, so losing the primary loses only what was
 * not streamed in the last interval, not everything since the last archived segment. archive_command stays the
 * source of complete segments (their content is the server's own, byte for byte); once it has delivered one, the
 * snapshot and the spool copy go. Runs until `signal` aborts; pg_receivewal is restarted when it exits.
 */
export async function streamWal(options: WalStreamOptions): Promise<void> {
  const interval = options.intervalMs ?? 1000;
  if (!options.repository.putWalSnapshot) throw new PostgresBackupError('backup-failed', 'this repository cannot store streamed WAL snapshots');
  await mkdir(options.spoolDirectory, { recursive: true, mode: 0o700 });
  const binary = options.pgReceivewal ?? receivewalFor(options.serverMajor ?? 15);
  const common = ['-h', options.connection.host, '-p', String(options.connection.port), '-U', options.connection.user, '-w'];
  const env = { ...process.env, ...(options.connection.password ? { PGPASSWORD: options.connection.password } : {}) };
  if (options.slot) await run(binary, [...common, '--create-slot', '--if-not-exists', '--slot', options.slot], env, 30_000);

  let receiver: ChildProcess | undefined;
  let restartAt = 0;
  const pushed = new Map<string, string>();
  const startReceiver = () => {
    const args = [...common, '-D', options.spoolDirectory, '--synchronous', '-n', ...(options.slot ? ['--slot', options.slot] : [])];
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', (error) => (stderr += error.message));
    child.on('close', (code) => {
      if (receiver === child) receiver = undefined;
      options.onEvent?.({ kind: 'receiver-exited', code, stderr });
      // A primary that is down or restarting: try again, not in a tight loop.
      restartAt = Date.now() + 1000;
    });
    receiver = child;
  };

  const tick = async () => {
    if (!receiver && Date.now() >= restartAt && !options.signal.aborted) startReceiver();
    const names = await readdir(options.spoolDirectory).catch(() => [] as string[]);
    const archived = new Set(await options.repository.listWal());
    for (const file of names) {
      const complete = /^([0-9A-F]{24})$/.exec(file)?.[1];
      const partial = /^([0-9A-F]{24})\.partial$/.exec(file)?.[1];
      const segment = complete ?? partial;
      if (!segment) continue;
      if (archived.has(segment)) {
        // The archiver delivered the server's own copy: the snapshot and the spool file have served their purpose.
        if (archived.has(`${segment}.stream`)) {
          await options.repository.deleteWal([`${segment}.stream`]);
          options.onEvent?.({ kind: 'superseded', name: segment });
        }
        if (complete) await rm(join(options.spoolDirectory, file), { force: true });
        pushed.delete(segment);
        continue;
      }
      const path = join(options.spoolDirectory, file);
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      const content = await readFile(path).catch(() => undefined);
      if (!content) continue;
      const digest = createHash('sha256').update(content).digest('hex');
      if (pushed.get(segment) === digest) continue;
      await options.repository.putWalSnapshot!(`${segment}.stream`, content);
      pushed.set(segment, digest);
      options.onEvent?.({ kind: 'snapshot', name: `${segment}.stream`, bytes: content.length });
    }
  };

  try {
    while (!options.signal.aborted) {
      await tick();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval);
        options.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
    // One last snapshot of what was received before the stop.
    await tick();
  } finally {
    const child = receiver;
    receiver = undefined;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(undefined);
        }, 5000);
        child.once('close', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
  }
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new PostgresBackupError('backup-failed', `${binary} ${args.join(' ')} failed (exit ${String(code)}): ${stderr.trim()}`));
    });
  });
}

function receivewalFor(major: number): string {
  const path = `/usr/lib/postgresql/${major}/bin/pg_receivewal`;
  return existsSync(path) ? path : 'pg_receivewal';
}
