import { join } from 'node:path';
import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { RepositorySet } from '../backup/repository-set.js';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { enginePart, optionalEnginePart } from '../engines/engine-registry.js';
import { ConfigurationError, DataLifecycleError, LifecycleError } from '../errors/index.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { SystemCheck } from '../monitoring/system-check.js';
import type { Repository } from '../repository/repository-types.js';
import { JobFailure, type JobRunRecord } from '../scheduler/job-scheduler.js';
import { LifecycleArchives } from './lifecycle-archives.js';
import { resolveLifecycleConfig, type DataLifecycleConfig, type ResolvedLifecycleConfig } from '../config/lifecycle-config.js';
import { LifecycleLedger } from './lifecycle-ledger.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';
import type { LifecyclePlanEntry, LifecycleProgress, LifecycleRunResult } from './lifecycle-types.js';
import { audited } from '../state/audited.js';
import { bindPolicy, runLifecyclePolicy } from './run-lifecycle-policy.js';
import { removeStaleDrillDirectories } from './stale-drill-directories.js';
import { lifecycleChecks } from './lifecycle-checks.js';
import { LifecycleMetrics } from './lifecycle-metrics.js';

export interface LifecycleRunOptions {
  /** Only this policy (by name); default every policy, in priority order. */
  policy?: string;
  /** Say what would go (counts and key ranges) and change nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: LifecycleProgress) => void;
}

const JOB_KIND = 'lifecycle';
const ARCHIVE_WORDS = {
  destination: 'archive destination',
  missing: 'pass --dest, or set "lifecycle.archival.destination" in the config file (or archival.destination in setupLifecycleManagement)',
  empty: 'no archive has been written there yet (a policy with action "archive" writes them when it runs)',
};
/** A killed run's lease keeps other runs of its policy out this long at most (renewed every third of it while alive). */
const RUN_LEASE_TTL_MS = 15_000;
const jobName = (policy: string) => `lifecycle:${policy}`;

/**
 * `dm.lifecycle`: the seed's data lifecycle (retention, archival, cleanup) on every engine with a lifecycle driver.
 * Policies run on cron schedules (one run per tick across instances, never overlapping), inside maintenance windows,
 * in small paced batches; archived rows are verified in the repository before they are deleted; every run is recorded.
 */
export class LifecycleManager {
  #config: ResolvedLifecycleConfig | undefined;
  readonly archives: LifecycleArchives;
  readonly #metrics: LifecycleMetrics;

  constructor(private readonly context: () => DatakeepContext, private readonly configuration: () => ResolvedDatakeepConfig = () => context().config, metrics?: MetricsRegistry) {
    this.#metrics = new LifecycleMetrics(metrics?.registry);
    this.archives = new LifecycleArchives(() => this.repositories(), (adapterId) => this.context().registry.get(adapterId), () => this.context().state());
  }

  /** The configuration in use: the last setup's, else the config file's `lifecycle` section. */
  private config(): ResolvedLifecycleConfig {
    if (this.#config) return this.#config;
    const section = this.configuration().lifecycle;
    if (section === undefined) throw new LifecycleError('no lifecycle policies: call setupLifecycleManagement({retention, archival, cleanup}) or add a "lifecycle" section to the config file');
    this.#config = resolveLifecycleConfig(section);
    return this.#config;
  }

  private repositories(): RepositorySet {
    const archive = this.#config?.archive ?? (() => {
      try {
        return this.config().archive;
      } catch {
        return { destination: undefined, passphraseFile: undefined, encryption: undefined };
      }
    })();
    const backups = this.configuration().backups;
    return new RepositorySet(() => ({
      destination: archive.destination,
      passphraseFile: archive.passphraseFile ?? (typeof backups?.passphraseFile === 'string' ? backups.passphraseFile : undefined),
      encryption: archive.encryption,
    }), undefined, ARCHIVE_WORDS);
  }

  /**
   * The seed's `setupLifecycleManagement({retention, archival, cleanup})`: checks every policy against its database
   * (tables, columns, conditions, the archive passphrase) before anything runs, then schedules each policy.
   */
  async setupLifecycleManagement(input: DataLifecycleConfig): Promise<{ policies: { name: string; schedule: string; timeZone: string; nextRun: Date | null }[] }> {
    const config = resolveLifecycleConfig(input, 'setupLifecycleManagement(config)');
    if (config.policies.some((p) => p.action === 'archive')) await this.repositoriesFor(config).passphrase({});
    for (const policy of config.policies) await this.inspect(policy);
    this.#config = config;
    const scheduled = [];
    for (const policy of config.policies) {
      const { nextRun } = await this.context().scheduler().schedule({
        name: jobName(policy.name),
        kind: JOB_KIND,
        cron: policy.schedule,
        timeZone: policy.timeZone,
        missedRunPolicy: 'run-once',
        config: { policy: policy.name, database: policy.database, target: policy.table ?? policy.collection ?? policy.keyPattern, action: policy.action },
        run: () => this.recordedRun(policy, {}),
      });
      scheduled.push({ name: policy.name, schedule: policy.schedule, timeZone: policy.timeZone, nextRun });
    }
    if (config.cleanup.enabled && config.cleanup.stateHistoryDays !== undefined) {
      const days = config.cleanup.stateHistoryDays;
      await this.context().scheduler().schedule({
        name: jobName('datakeep-state'), kind: JOB_KIND, cron: config.cleanup.schedule, timeZone: config.cleanup.timeZone, missedRunPolicy: 'skip', config: { stateHistoryDays: days },
        run: () => this.cleanStateHistory(days),
      });
    }
    await (await this.context().state()).audit({ action: 'lifecycle.setup', target: config.policies.map((p) => p.name).join(',') || 'none', details: { policies: scheduled.map((p) => ({ name: p.name, schedule: p.schedule, timeZone: p.timeZone })) } });
    return { policies: scheduled };
  }

  /** What each policy (or the one named) would do now: matching rows of the total, key range, partitions. */
  async plan(options: { policy?: string } = {}): Promise<LifecyclePlanEntry[]> {
    const out: LifecyclePlanEntry[] = [];
    const scheduled = new Map(this.context().scheduler().list().map((j) => [j.name, j.nextRun]));
    for (const policy of this.select(options.policy)) {
      const { adapter, driver } = this.resolve(policy);
      const bound = bindPolicy(policy, new Date());
      const inspection = await driver.inspect(adapter, bound);
      const counted = await driver.count(adapter, bound, inspection);
      const partitions = policy.partitions ? (inspection.partitions ?? []).filter((p) => p.expired).map((p) => p.name) : [];
      out.push({
        policy: policy.name, database: adapter.id, target: inspection.target, action: policy.action, rows: counted.rows, total: counted.total,
        firstKey: counted.firstKey, lastKey: counted.lastKey, partitions, schedule: policy.schedule, timeZone: policy.timeZone,
        nextRun: scheduled.get(jobName(policy.name))?.toISOString(),
        refusal: counted.rows > 0 && counted.rows === counted.total && !policy.allowAll ? `every row of ${inspection.target} matches; set "allowAll": true to let this policy empty it` : undefined,
      });
    }
    return out;
  }

  /** Runs the policies now (or says what they would do, with dryRun), each recorded in the state store. */
  async run(options: LifecycleRunOptions = {}): Promise<LifecycleRunResult[]> {
    if (options.dryRun) return this.#run(options);
    return audited(() => this.context().state(), { action: 'lifecycle.run', target: options.policy ?? 'all' }, () => this.#run(options), {
      result: (results) => ({ runs: results.map((r) => ({ policy: r.policy, outcome: r.outcome, rowsDeleted: r.rowsDeleted, rowsArchived: r.rowsArchived, error: r.error })) }),
    });
  }

  async #run(options: LifecycleRunOptions): Promise<LifecycleRunResult[]> {
    const policies = this.select(options.policy);
    if (options.dryRun) {
      const plans = await this.plan(options);
      return plans.map((p) => ({ policy: p.policy, database: p.database, dryRun: true, outcome: 'done', rowsDeleted: 0, rowsArchived: 0, archives: [], partitionsDropped: [], batches: 0, durationMs: 0, longestLockWaitMs: 0, lagWaitMs: 0, recovered: 0, error: p.refusal }));
    }
    const results: LifecycleRunResult[] = [];
    for (const policy of policies) {
      let result: LifecycleRunResult | undefined;
      try {
        const record = await this.context().scheduler().runNow({ name: jobName(policy.name), kind: JOB_KIND, run: async () => {
          result = await this.execute(policy, options);
          if (result.outcome === 'failed') throw new JobFailure(result.error ?? 'failed', { ...result });
          return { ...result };
        } }, { leaseTtlMs: RUN_LEASE_TTL_MS });
        if (record.status === 'skipped') throw new DataLifecycleError('contended', policy.name, 'another run of this policy is still going (in this or another datakeep instance); try again when it ends');
      } catch (error) {
        if (!(error instanceof JobFailure)) throw error;
      }
      if (result) results.push(result);
      if (options.signal?.aborted) break;
    }
    return results;
  }

  /** Recorded runs of every policy (or one), newest first. */
  async history(options: { policy?: string; limit?: number } = {}): Promise<JobRunRecord[]> {
    const runs = await this.context().scheduler().history(options.policy === undefined ? undefined : jobName(options.policy), options.limit ?? 50);
    return options.policy === undefined ? runs.filter((r) => r.job.startsWith('lifecycle:')) : runs;
  }

  /** validateSystem()'s `lifecycle:<policy>` checks: a failed last run, a run behind its schedule. */
  async validationChecks(): Promise<SystemCheck[]> {
    let config: ResolvedLifecycleConfig;
    try {
      config = this.config();
    } catch {
      return [];
    }
    const scheduler = this.context().scheduler();
    const scheduled = new Map(scheduler.list().filter((j) => j.name.startsWith('lifecycle:')).map((j) => [j.name.slice('lifecycle:'.length), j.nextRun]));
    const lastRuns = new Map(await Promise.all(config.policies.map(async (p) => [p.name, (await scheduler.history(jobName(p.name), 1))[0]] as const)));
    return lifecycleChecks(config.policies, lastRuns, scheduled);
  }

  private async recordedRun(policy: LifecyclePolicy, options: LifecycleRunOptions): Promise<Record<string, unknown>> {
    const result = await this.execute(policy, options);
    if (result.outcome === 'failed') throw new JobFailure(result.error ?? 'failed', { ...result });
    return { ...result };
  }

  private async execute(policy: LifecyclePolicy, options: LifecycleRunOptions): Promise<LifecycleRunResult> {
    const { adapter, driver } = this.resolve(policy);
    const state = await this.context().state();
    let archive: { repository: Repository; path: string } | undefined;
    const repositories = this.repositoriesFor(this.config());
    const config = this.config();
    if (policy.action === 'archive' || (await new LifecycleLedger(state).pending(policy.name)).length > 0) {
      const path = join(repositories.destination(config.archive.destination), adapter.id);
      // One worker: an archive is one small batch, and the run must leave the cores to the application.
      archive = { path, repository: await repositories.openOrInit(path, await repositories.passphrase({}), { workers: 1, compression: true, owner: undefined }) };
    }
    const started = Date.now();
    this.context().logger.log('info', 'lifecycle run started', { policy: policy.name, database: adapter.id, action: policy.action });
    try {
      const tracked = this.#metrics.track(adapter.id, adapter.type, options.onProgress);
      const result = await runLifecyclePolicy({ adapter, driver, engine: adapter.type, policy, archive, ledger: new LifecycleLedger(state), logger: this.context().logger, signal: options.signal, onProgress: tracked.onProgress });
      tracked.ended(result);
      this.context().logger.log(result.outcome === 'failed' ? 'error' : 'info', 'lifecycle run ended', { policy: policy.name, database: adapter.id, outcome: result.outcome, rowsDeleted: result.rowsDeleted, rowsArchived: result.rowsArchived, durationMs: Date.now() - started });
      return result;
    } finally {
      await archive?.repository.close?.();
    }
  }

  private repositoriesFor(config: ResolvedLifecycleConfig): RepositorySet {
    const backups = this.configuration().backups;
    return new RepositorySet(() => ({
      destination: config.archive.destination,
      passphraseFile: config.archive.passphraseFile ?? (typeof backups?.passphraseFile === 'string' ? backups.passphraseFile : undefined),
      encryption: config.archive.encryption,
    }), () => this.context().logger, ARCHIVE_WORDS);
  }

  private async inspect(policy: LifecyclePolicy): Promise<void> {
    const { adapter, driver } = this.resolve(policy);
    await driver.inspect(adapter, bindPolicy(policy, new Date()));
  }

  private select(name: string | undefined): readonly LifecyclePolicy[] {
    const policies = this.config().policies;
    if (name === undefined) return policies;
    const found = policies.filter((p) => p.name === name);
    if (found.length === 0) throw new DataLifecycleError('unknown-policy', name, `no such policy; the policies are: ${policies.map((p) => p.name).join(', ') || 'none'}`);
    return found;
  }

  /** The policy's database (given, or the one database that can hold its kind of target) and its engine's driver. */
  private resolve(policy: LifecyclePolicy): { adapter: DatabaseAdapter; driver: NonNullable<ReturnType<typeof enginePart<'lifecycle'>>> } {
    const registry = this.context().registry;
    let adapter: DatabaseAdapter;
    if (policy.database !== undefined) adapter = registry.get(policy.database);
    else if (policy.table !== undefined) adapter = registry.defaultSql();
    else {
      const wanted = policy.collection !== undefined ? 'collection' : 'keyPattern';
      const candidates = registry.all().filter((a) => optionalEnginePart(a, 'lifecycle')?.targets === wanted);
      if (candidates.length !== 1) throw new ConfigurationError(`lifecycle policy "${policy.name}".database`, candidates.length === 0 ? `no configured database takes a ${wanted}` : `several databases take a ${wanted} (${candidates.map((c) => c.id).join(', ')})`, 'Set "database" to the id of the database the policy applies to');
      adapter = candidates[0]!;
    }
    return { adapter, driver: enginePart(adapter, 'lifecycle', 'data lifecycle') };
  }

  /**
   * datakeep's own leftovers: recorded job runs and closed lifecycle ledger entries older than `days`, and scratch
   * directories of restore drills whose process is gone. (Drill results themselves are audit entries, which are never
   * deleted.)
   */
  private async cleanStateHistory(days: number): Promise<Record<string, unknown>> {
    const state = await this.context().state();
    const runs = await state.adapter.execute(`DELETE FROM datakeep.job_runs WHERE finished_at < now() - (? * interval '1 day')`, [days]);
    const ledger = await state.adapter.execute(`DELETE FROM datakeep.lifecycle_archives WHERE removed_at < now() - (? * interval '1 day')`, [days]);
    const scratch = await removeStaleDrillDirectories(days);
    return { jobRunsDeleted: runs, ledgerEntriesDeleted: ledger, drillDirectoriesRemoved: scratch };
  }
}
