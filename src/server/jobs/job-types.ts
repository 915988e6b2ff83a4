/** A long operation started through the API (backup, verify, restore, lifecycle run, switchover, failover). */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface JobView {
  id: string;
  kind: string;
  target: string | null;
  actor: string;
  status: JobStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The latest progress the operation reported (bytes, files, rows...), as it reported it. */
  progress: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  error: string | null;
}

/** What a job's subscribers receive: each `progress`, then one terminal `done` or `failed`. */
export type JobEvent =
  | { type: 'progress'; data: Record<string, unknown> }
  | { type: 'done'; data: JobView }
  | { type: 'failed'; data: JobView };

export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'interrupted'];

/**
 * The work of a job: reports progress through `progress`, resolves with its result. `signal` is aborted when a
 * shutdown's wait runs out: work that honours it stops and leaves nothing half-written.
 */
export type JobWork = (progress: (data: Record<string, unknown>) => void, signal: AbortSignal) => Promise<Record<string, unknown>>;
