import { spawn } from 'node:child_process';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import type { MigrationLockSettings } from '../../src/migrations/migration-part.js';

const WORKER = new URL('./lock-holder-worker.ts', import.meta.url).pathname;
const LEASE_WORKER = new URL('./lease-holder-worker.ts', import.meta.url).pathname;

/** A child process holding a lock (a worker script), to be killed as a crashed holder would die. */
export interface LockHolderProcess {
  readonly pid: number;
  /** SIGKILL, then waits until the process is gone. Idempotent. */
  kill(): Promise<void>;
}

/** A migration lock held by another process (lock-holder-worker.ts). */
export function holdLockInChild(config: DatabaseConfig, settings: MigrationLockSettings, timeoutMs = 60_000): Promise<LockHolderProcess> {
  return holdInChild(WORKER, JSON.stringify({ config, ...settings }), timeoutMs);
}

/** A backup repository's named lease held by another process (lease-holder-worker.ts). */
export function holdRepositoryLeaseInChild(path: string, passphrase: string, name: string, timeoutMs = 60_000): Promise<LockHolderProcess> {
  return holdInChild(LEASE_WORKER, JSON.stringify({ path, passphrase, name }), timeoutMs);
}

/** Starts the worker and resolves once it holds the lock (bounded by `timeoutMs`; the child is killed on failure). */
async function holdInChild(worker: string, argument: string, timeoutMs: number): Promise<LockHolderProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, argument], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the lock holder did not report "held" within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('held\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the lock holder exited (${code ?? signal}) before holding the lock; stderr: ${stderr}`));
      });
    });
  } catch (error) {
    await kill();
    throw error;
  }
  return { pid: child.pid!, kill };
}
