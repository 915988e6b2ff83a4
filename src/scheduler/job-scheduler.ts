import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Cron } from 'croner';
import { assertSchedule } from '../config/cron-expression.js';
import { UsageError } from '../errors/index.js';
import { LeaseLock } from '../locks/lease-lock.js';
import type { StateStore } from '../state/state-store.js';
import type { Logger } from '../util/logger.js';

/**
 * Thrown by a job's work that failed after doing part of it: the run is recorded as failed, with these details (rows
 * removed before the failure, say) and the message as its error.
 */
export class JobFailure extends Error {
  constructor(message: string, readonly details: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobFailure';
  }
}

/** What to do about ticks that passed while no datakeep process was running. */
export type MissedRunPolicy = 'run-once' | 'skip';

export interface JobDefinition {
  /** Unique job name, e.g. `backup:postgresql-localhost-app_db`. */
  readonly name: string;
  readonly kind: string;
  readonly cron: string;
  readonly timeZone?: string;
  /** Default 'run-once': at start, one missed tick (the latest) is run at once; older ones are not replayed. */
  readonly missedRunPolicy?: MissedRunPolicy;
  /** The configuration stored with the schedule (for `list` and for the service to show). */
  readonly config: Record<string, unknown>;
  /** The work; its result is stored with the run. */
  run(): Promise<Record<string, unknown>>;
}

export interface JobRunRecord {
  readonly id: number;
  readonly job: string;
  readonly scheduledFor: Date | null;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly status: 'running' | 'succeeded' | 'failed' | 'skipped';
  readonly instance: string | null;
  readonly details: Record<string, unknown>;
  readonly error: string | null;
}

/**
 * Cron schedules whose runs are recorded in the state store. Guarantees:
 * - one run per job and tick across every datakeep instance sharing the state store (a unique (job, tick) row is
 *   claimed before running; the loser skips silently);
 * - runs never overlap: within a process croner's `protect`, across processes a lease per job (a tick that finds the
 *   previous run still going is recorded as `skipped`);
 * - ticks missed while no instance ran: with 'run-once' the latest missed tick runs at start, older ones are not
 *   replayed (a backup taken now supersedes them); with 'skip' nothing is caught up.
 */
export class JobScheduler {
  readonly #jobs = new Map<string, { def: JobDefinition; cron: Cron }>();
  readonly #instance = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  #stopped = false;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Finished runs by "kind outcome", for datakeep_schedule_runs_total. */
  readonly #runCounts = new Map<string, number>();

  constructor(
    private readonly state: () => Promise<StateStore>,
    private readonly logger: Logger,
  ) {}

  get instance(): string {
    return this.#instance;
  }

  /** Validates, stores and starts a schedule (replacing one of the same name). */
  async schedule(def: JobDefinition): Promise<{ nextRun: Date | null }> {
    if (this.#stopped) throw new UsageError('schedule', 'the scheduler is stopped (the DataManager was closed)');
    assertSchedule(def.cron, def.timeZone, { cron: 'schedule', timeZone: 'timeZone' });
    const cron = new Cron(def.cron, { timezone: def.timeZone, paused: true, protect: true });
    const store = await this.state();
    await store.adapter.execute(
      `INSERT INTO datakeep.schedules (name, kind, cron, timezone, config, enabled, updated_at) VALUES (?, ?, ?, ?, ?, true, now())
       ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, config = EXCLUDED.config, enabled = true, updated_at = now()`,
      [def.name, def.kind, def.cron, def.timeZone ?? 'UTC', JSON.stringify(def.config)],
    );
    this.#jobs.get(def.name)?.cron.stop();
    const live = new Cron(def.cron, { timezone: def.timeZone, protect: true, catch: true, unref: true }, async (self: Cron) => {
      const tick = self.currentRun() ?? new Date();
      await this.track(this.runTick(def, truncateToSecond(tick)));
    });
    this.#jobs.set(def.name, { def, cron: live });
    if ((def.missedRunPolicy ?? 'run-once') === 'run-once') await this.catchUp(def, cron);
    return { nextRun: live.nextRun() };
  }

  /** Runs the latest tick missed since the job's last recorded run (or since the schedule was stored). */
  private async catchUp(def: JobDefinition, cron: Cron): Promise<void> {
    const store = await this.state();
    const rows = await store.adapter.query<{ last: Date | null; since: Date }>(
      `SELECT (SELECT max(scheduled_for) FROM datakeep.job_runs WHERE job = ?) AS last, (SELECT updated_at FROM datakeep.schedules WHERE name = ?) AS since`,
      [def.name, def.name],
    );
    const from = rows[0]?.last ?? null;
    if (!from) return; // a new schedule has missed nothing
    const missed = cron.previousRuns(1, new Date())[0];
    if (missed && missed.getTime() > new Date(from).getTime()) {
      this.logger.log('info', 'running a missed scheduled tick', { job: def.name, tick: missed.toISOString() });
      void this.track(this.runTick(def, truncateToSecond(missed)));
    }
  }

  /** Claims the tick, takes the job's lease, runs, records. Never throws (failures are recorded and logged). */
  async runTick(def: JobDefinition, tick: Date): Promise<JobRunRecord | undefined> {
    const store = await this.state();
    const claimed = await store.adapter.query<{ id: number }>(
      `INSERT INTO datakeep.job_runs (job, kind, scheduled_for, status, instance) VALUES (?, ?, ?, 'running', ?)
       ON CONFLICT (job, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING RETURNING id`,
      [def.name, def.kind, tick, this.#instance],
    );
    const id = claimed[0]?.id;
    if (id === undefined) return undefined; // another instance has this tick
    const lease = new LeaseLock(store.leaseStore(`job:${def.name}`), { resource: `job ${def.name}`, holder: 'run of this job' }, 60_000);
    try {
      await lease.acquire(0);
    } catch {
      await this.finish(id, 'skipped', {}, 'the previous run of this job is still going', def.kind);
      return this.run(id);
    }
    try {
      const details = await def.run();
      await this.finish(id, 'succeeded', details, null, def.kind);
    } catch (error) {
      this.logger.log('error', 'scheduled job failed', { job: def.name, error: (error as Error).message });
      await this.finish(id, 'failed', error instanceof JobFailure ? error.details : {}, (error as Error).message, def.kind);
    } finally {
      await lease.release().catch(() => undefined);
    }
    return this.run(id);
  }

  /**
   * Runs a job's work now, outside its schedule (a run asked for by hand), recorded like a scheduled run but with no
   * tick; the same lease keeps it from overlapping a scheduled run of the job in any instance. A run that finds the
   * job running elsewhere is recorded as skipped; a failing run is recorded as failed and its error rethrown.
   */
  async runNow(def: Pick<JobDefinition, 'name' | 'kind' | 'run'>, options: { leaseTtlMs?: number } = {}): Promise<JobRunRecord> {
    const store = await this.state();
    const claimed = await store.adapter.query<{ id: number }>(
      `INSERT INTO datakeep.job_runs (job, kind, status, instance) VALUES (?, ?, 'running', ?) RETURNING id`,
      [def.name, def.kind, this.#instance],
    );
    const id = claimed[0]!.id;
    const lease = new LeaseLock(store.leaseStore(`job:${def.name}`), { resource: `job ${def.name}`, holder: 'run of this job' }, options.leaseTtlMs ?? 60_000);
    try {
      await lease.acquire(0);
    } catch {
      await this.finish(id, 'skipped', {}, 'another run of this job is still going', def.kind);
      return (await this.run(id))!;
    }
    try {
      const details = await def.run();
      await this.finish(id, 'succeeded', details, null, def.kind);
    } catch (error) {
      await this.finish(id, 'failed', error instanceof JobFailure ? error.details : {}, (error as Error).message, def.kind);
      throw error;
    } finally {
      await lease.release().catch(() => undefined);
    }
    return (await this.run(id))!;
  }

  private async finish(id: number, status: JobRunRecord['status'], details: Record<string, unknown>, error: string | null, kind: string): Promise<void> {
    const key = `${kind} ${status}`;
    this.#runCounts.set(key, (this.#runCounts.get(key) ?? 0) + 1);
    const store = await this.state();
    await store.adapter.execute('UPDATE datakeep.job_runs SET status = ?, finished_at = now(), details = ?, error = ? WHERE id = ?', [status, JSON.stringify(details), error, id]);
  }

  private async run(id: number): Promise<JobRunRecord | undefined> {
    return (await this.history(undefined, 1, id))[0];
  }

  /** Recorded runs, newest first. */
  async history(job?: string, limit = 50, id?: number): Promise<JobRunRecord[]> {
    const store = await this.state();
    const rows = await store.adapter.query<Record<string, unknown>>(
      `SELECT id, job, scheduled_for, started_at, finished_at, status, instance, details, error FROM datakeep.job_runs
        WHERE (?::text IS NULL OR job = ?) AND (?::bigint IS NULL OR id = ?) ORDER BY id DESC LIMIT ?`,
      [job ?? null, job ?? null, id ?? null, id ?? null, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id), job: String(r.job), scheduledFor: (r.scheduled_for as Date | null) ?? null, startedAt: r.started_at as Date,
      finishedAt: (r.finished_at as Date | null) ?? null, status: r.status as JobRunRecord['status'], instance: (r.instance as string | null) ?? null,
      details: (r.details as Record<string, unknown>) ?? {}, error: (r.error as string | null) ?? null,
    }));
  }

  /** Runs this process finished, by job kind and outcome. */
  runCounts(): { kind: string; outcome: JobRunRecord['status']; count: number }[] {
    return [...this.#runCounts].map(([key, count]) => {
      const [kind, outcome] = key.split(' ') as [string, JobRunRecord['status']];
      return { kind, outcome, count };
    });
  }

  /** Jobs scheduled in this process with their next tick. */
  list(): { name: string; kind: string; cron: string; timeZone: string; nextRun: Date | null; running: boolean }[] {
    return [...this.#jobs.values()].map(({ def, cron }) => ({ name: def.name, kind: def.kind, cron: def.cron, timeZone: def.timeZone ?? 'UTC', nextRun: cron.nextRun(), running: cron.isBusy() }));
  }

  unschedule(name: string): void {
    this.#jobs.get(name)?.cron.stop();
    this.#jobs.delete(name);
  }

  private track<T>(run: Promise<T>): Promise<T> {
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run)).catch(() => undefined);
    return run;
  }

  /** Stops every cron and waits for the runs in progress (a backup is not cut off by a shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { cron } of this.#jobs.values()) cron.stop();
    this.#jobs.clear();
    await Promise.allSettled([...this.#inFlight]);
  }
}

function truncateToSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
