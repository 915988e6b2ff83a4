import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Row } from '../../adapters/database-adapter.js';
import type { StateStore } from '../../state/state-store.js';
import { asActor } from '../../state/audit-actor.js';
import type { Logger } from '../../util/logger.js';
import { processAlive } from '../../util/process-alive.js';
import { redactValue } from '../../util/secrets.js';
import { TERMINAL, type JobEvent, type JobView, type JobWork } from './job-types.js';

/** After a shutdown aborts the jobs still running, how long it waits for them to stop before recording them anyway. */
const ABORT_WAIT_MS = 15_000;
const INTERRUPTED = 'the service stopped before the job finished';

/** Progress is written to the state store at most this often per job; subscribers get every report. */
const PERSIST_PROGRESS_EVERY_MS = 1000;

interface LiveJob {
  view: JobView;
  abort: AbortController;
  listeners: Set<(event: JobEvent) => void>;
  done: Promise<void>;
  lastPersisted: number;
  /** Runs until the service stops (a log capture): a shutdown aborts it at once instead of waiting for it. */
  untilStopped: boolean;
}

/**
 * The jobs of this service: started in the background, their state kept in the state store (`service_jobs`) so that
 * they outlive the process that ran them. Jobs this process runs are also held in memory, with their subscribers
 * (the SSE stream). A job that a shutdown or a crash cut off is recorded as `interrupted`: by drain() on a clean
 * shutdown, and at the next start for a process that died (same host, its pid gone).
 */
export class JobRegistry {
  readonly #live = new Map<string, LiveJob>();
  readonly #instance = `${hostname()}:${process.pid}`;
  #accepting = true;

  constructor(private readonly state: StateStore, private readonly logger: Logger) {}

  /**
   * Records as interrupted the unfinished jobs of processes on this host that no longer exist, and as failed (the
   * scheduler's table has no 'interrupted') their scheduled runs still marked running: a shutdown that cut them off,
   * or a crash.
   */
  async markOrphansInterrupted(): Promise<number> {
    const dead = (instance: unknown) => {
      const [host, pid] = String(instance).split(':');
      return host === hostname() && Number(pid) !== process.pid && !processAlive(Number(pid));
    };
    let marked = 0;
    for (const row of await this.state.adapter.query<Row>("SELECT id, instance FROM datakeep.service_jobs WHERE status IN ('queued', 'running')")) {
      if (!dead(row.instance)) continue;
      await this.#finish(String(row.id), 'interrupted', null, 'the datakeep process running it stopped before it finished');
      marked += 1;
    }
    for (const row of await this.state.adapter.query<Row>("SELECT id, instance FROM datakeep.job_runs WHERE status = 'running' AND instance IS NOT NULL")) {
      if (!dead(row.instance)) continue;
      await this.state.adapter.execute("UPDATE datakeep.job_runs SET status = 'failed', finished_at = now(), error = ? WHERE id = ? AND status = 'running'", ['interrupted: the datakeep process running it stopped before it finished', row.id]);
      marked += 1;
    }
    return marked;
  }

  /**
   * Starts `work` in the background as `actor` (its audit entries name the actor) and returns the job's id.
   * `untilStopped`: the work runs until the service stops (a log capture), so drain() aborts it without waiting.
   */
  async start(kind: string, target: string | null, actor: string, work: JobWork, options: { untilStopped?: boolean } = {}): Promise<string> {
    if (!this.#accepting) throw new Error('the service is shutting down');
    const id = `job_${randomBytes(8).toString('hex')}`;
    const rows = await this.state.adapter.query<Row>(
      "INSERT INTO datakeep.service_jobs (id, kind, target, actor, instance, status, started_at) VALUES (?, ?, ?, ?, ?, 'running', now()) RETURNING *",
      [id, kind, target, actor, this.#instance],
    );
    const live: LiveJob = { view: toView(rows[0]!), abort: new AbortController(), listeners: new Set(), done: Promise.resolve(), lastPersisted: 0, untilStopped: options.untilStopped ?? false };
    this.#live.set(id, live);
    live.done = asActor(actor, () => this.#run(live, work));
    return id;
  }

  async #run(live: LiveJob, work: JobWork): Promise<void> {
    const { id } = live.view;
    const progress = (data: Record<string, unknown>) => {
      if (TERMINAL.includes(live.view.status)) return;
      const safe = redactValue(data) as Record<string, unknown>;
      live.view.progress = safe;
      this.#emit(live, { type: 'progress', data: safe });
      const now = Date.now();
      if (now - live.lastPersisted >= PERSIST_PROGRESS_EVERY_MS) {
        live.lastPersisted = now;
        void this.state.adapter.execute('UPDATE datakeep.service_jobs SET progress = ? WHERE id = ?', [JSON.stringify(safe), id]).catch(() => undefined);
      }
    };
    try {
      const result = await work(progress, live.abort.signal);
      await this.#settle(live, 'succeeded', redactValue(result) as Record<string, unknown>, null);
    } catch (error) {
      if (live.abort.signal.aborted) {
        await this.#settle(live, 'interrupted', null, INTERRUPTED);
        return;
      }
      this.logger.log('error', 'job failed', { job: id, kind: live.view.kind, error });
      await this.#settle(live, 'failed', null, (error as Error)?.message ?? String(error));
    }
  }

  async #settle(live: LiveJob, status: 'succeeded' | 'failed' | 'interrupted', result: Record<string, unknown> | null, error: string | null): Promise<void> {
    if (TERMINAL.includes(live.view.status)) return;
    try {
      live.view = (await this.#finish(live.view.id, status, result, error)) ?? { ...live.view, status, result, error, finishedAt: new Date().toISOString() };
    } catch (cause) {
      // The state store is gone (a shutdown closing it): subscribers still learn the outcome.
      this.logger.log('warn', 'could not record the end of a job', { job: live.view.id, error: cause });
      live.view = { ...live.view, status, result, error, finishedAt: new Date().toISOString() };
    }
    this.#emit(live, { type: status === 'succeeded' ? 'done' : 'failed', data: live.view });
    live.listeners.clear();
    this.#live.delete(live.view.id);
  }

  async #finish(id: string, status: string, result: Record<string, unknown> | null, error: string | null): Promise<JobView | undefined> {
    const rows = await this.state.adapter.query<Row>(
      `UPDATE datakeep.service_jobs SET status = ?, finished_at = now(), result = ?, error = ? WHERE id = ? AND status IN ('queued', 'running') RETURNING *`,
      [status, result === null ? null : JSON.stringify(result), error, id],
    );
    return rows[0] ? toView(rows[0]) : undefined;
  }

  #emit(live: LiveJob, event: JobEvent): void {
    for (const listener of live.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber that fails (a closed stream) never stops the job.
      }
    }
  }

  async get(id: string): Promise<JobView | undefined> {
    const live = this.#live.get(id);
    if (live) return live.view;
    const rows = await this.state.adapter.query<Row>('SELECT * FROM datakeep.service_jobs WHERE id = ?', [id]);
    return rows[0] ? toView(rows[0]) : undefined;
  }

  /** The newest jobs first (every instance sharing the state store). */
  async list(limit = 50): Promise<JobView[]> {
    const rows = await this.state.adapter.query<Row>('SELECT * FROM datakeep.service_jobs ORDER BY created_at DESC, id LIMIT ?', [limit]);
    return rows.map((r) => this.#live.get(String(r.id))?.view ?? toView(r));
  }

  /**
   * Calls `listener` with every later event of a job this process runs; returns undefined when the job is not
   * running here (finished, or run by another instance: read it with get()).
   */
  subscribe(id: string, listener: (event: JobEvent) => void): (() => void) | undefined {
    const live = this.#live.get(id);
    if (!live) return undefined;
    live.listeners.add(listener);
    return () => live.listeners.delete(listener);
  }

  get running(): number {
    return this.#live.size;
  }

  /**
   * Stops accepting jobs and waits up to `timeoutMs` for the running ones. Those still running are then aborted and
   * waited for again (bounded): work that honours the signal (backups, restores, lifecycle runs) stops and leaves
   * nothing visible half-written. Every job not finished by then is recorded as interrupted.
   */
  async drain(timeoutMs: number): Promise<{ finished: number; interrupted: string[] }> {
    this.#accepting = false;
    // Work that only ends when told to stops first (and stores what it holds), without the wait.
    const endless = [...this.#live.values()].filter((j) => j.untilStopped);
    for (const live of endless) live.abort.abort();
    await settledWithin(endless.map((j) => j.done), ABORT_WAIT_MS);
    const running = [...this.#live.values()];
    await settledWithin(running.map((j) => j.done), timeoutMs);
    const late = [...this.#live.values()];
    for (const live of late) live.abort.abort();
    await settledWithin(late.map((j) => j.done), ABORT_WAIT_MS);
    for (const live of [...this.#live.values()]) await this.#settle(live, 'interrupted', null, `${INTERRUPTED} (it did not stop within ${ABORT_WAIT_MS / 1000} s of being told to)`);
    const interrupted = late.filter((j) => j.view.status === 'interrupted').map((j) => j.view.id);
    return { finished: new Set([...endless, ...running]).size - interrupted.length, interrupted };
  }
}

/** Waits for every promise to settle, at most `ms`. */
async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function iso(value: unknown): string | null {
  return value instanceof Date ? value.toISOString() : value === null || value === undefined ? null : new Date(String(value)).toISOString();
}

function toView(r: Row): JobView {
  return {
    id: String(r.id), kind: String(r.kind), target: (r.target as string | null) ?? null, actor: String(r.actor), status: r.status as JobView['status'],
    createdAt: iso(r.created_at)!, startedAt: iso(r.started_at), finishedAt: iso(r.finished_at),
    progress: (r.progress as Record<string, unknown> | null) ?? null, result: (r.result as Record<string, unknown> | null) ?? null, error: (r.error as string | null) ?? null,
  };
}
