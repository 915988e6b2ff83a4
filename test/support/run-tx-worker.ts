import { spawn } from 'node:child_process';

const WORKER = new URL('./tx-coordinator-worker.ts', import.meta.url).pathname;

export interface WorkerRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The global id the worker's coordinator printed with its steps. */
  readonly globalId: string | undefined;
}

/** Runs tx-coordinator-worker.ts in a child process (it SIGKILLs itself at `step`) and waits for it to end. */
export function runTxWorker(input: { settings: unknown; step: string; row: number; prefix: string; phase2?: 'wait' | 'background'; participants?: string[]; decisionIn?: 'auto' | false | string }): Promise<WorkerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const globalId = /^\S+ ([a-z0-9]{8,30})$/m.exec(stdout)?.[1];
      resolve({ stdout, stderr, code, signal, globalId });
    });
  });
}
