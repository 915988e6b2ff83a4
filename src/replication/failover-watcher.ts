import { ReplicationError } from '../errors/replication-error.js';
import { sleep } from '../resilience/backoff.js';
import { withTimeout } from '../resilience/with-timeout.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { ClusterRecord, FailoverAuthority, Leadership } from './failover-authority.js';

/** What the ReplicationManager gives the watcher: the authority, its timing, and the three hooks. */
export interface FailoverWatcherOptions {
  authority: FailoverAuthority;
  /** This instance's name in the authority (unique per instance). */
  holder: string;
  /** Lease TTL: how long a crashed holder blocks the others. */
  ttlMs: number;
  /** Milliseconds between probes of the primary while leading. */
  checkIntervalMs: number;
  /** The primary is down when every probe for this long has failed (the seed's failoverTimeout). */
  failoverTimeoutMs: number;
  /** True when the primary answered. A throw, or no answer within `probeTimeoutMs`, counts as a failed probe. */
  probePrimary(signal: AbortSignal): Promise<boolean>;
  /**
   * The failover, called only while this instance holds the leadership and never twice at once. It must check
   * `leadership.lost` between its steps; `putIfLeader` fences it anyway.
   */
  onPrimaryDown(leadership: Leadership): Promise<void>;
  /** Every new cluster record (another instance's failover, or this one's), so that this instance's router follows. */
  onRecord(record: ClusterRecord): void;
  logger?: Logger;
  /** Limit of one probe (default: the check interval, at least 1 s, at most half the failover timeout). */
  probeTimeoutMs?: number;
  /** Limit of each etcd read and of each campaign round (default: the TTL, at least 2 s). */
  callTimeoutMs?: number;
}

/** For health and metrics. */
export interface FailoverWatcherState {
  /** This instance holds the leadership (and so watches the primary). */
  leader: boolean;
  /** Who holds it, as last seen. */
  holder?: string;
  /** Whether the last probe of the primary succeeded (leader only). */
  lastProbeOk?: boolean;
  /** ISO time of the last probe (leader only). */
  lastProbeAt?: string;
  /** How long every probe has failed (0 when the last one succeeded). */
  failingForMs: number;
  /** onPrimaryDown calls made by this instance. */
  failovers: number;
}

/** How often an unreachable authority is logged again while it stays unreachable. */
const REPEAT_WARNING_MS = 30_000;

/**
 * The loop one datakeep instance runs for automatic failover. It campaigns for the authority's leadership; the leader
 * probes the primary every check interval and, once every probe for `failoverTimeoutMs` has failed (two at least, so a
 * blip is not an outage), calls `onPrimaryDown` with its leadership. An instance that is not leader keeps campaigning,
 * so a crashed leader is replaced within its TTL, and its successor, finding the primary still down, fails over in
 * its place. Every instance follows the cluster record (`onRecord`). Losing the lease stops all acting at once. A
 * failover that throws is logged and tried again once the probes have failed for another failover timeout.
 */
export class FailoverWatcher {
  readonly #options: FailoverWatcherOptions;
  readonly #logger: Logger;
  readonly #stopping = new AbortController();
  #run: Promise<void> | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #failover: Promise<void> | undefined;
  #lastRecord: string | undefined;
  #failingSince: number | undefined;
  #failedProbes = 0;
  #warnedAt = 0;
  #state: FailoverWatcherState = { leader: false, failingForMs: 0, failovers: 0 };

  constructor(options: FailoverWatcherOptions) {
    for (const field of ['ttlMs', 'checkIntervalMs', 'failoverTimeoutMs'] as const) {
      if (!(Number.isFinite(options[field]) && options[field] > 0)) {
        throw new ReplicationError('refused', `failover watcher: ${field} must be a positive number of milliseconds, got ${String(options[field])}`);
      }
    }
    if (options.checkIntervalMs >= options.failoverTimeoutMs) {
      throw new ReplicationError('refused', `failover watcher: checkInterval (${options.checkIntervalMs} ms) must be below failoverTimeout (${options.failoverTimeoutMs} ms), or one failed probe would be an outage`);
    }
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts campaigning and following records. */
  start(): void {
    if (this.#run) throw new ReplicationError('refused', 'failover watcher: start() called twice');
    this.#run = Promise.all([this.#campaignLoop(), this.#follow()]).then(() => undefined);
  }

  state(): FailoverWatcherState {
    const failingForMs = this.#failingSince === undefined ? 0 : Date.now() - this.#failingSince;
    return { ...this.#state, failingForMs };
  }

  /**
   * Resigns the leadership (others need not wait for the TTL), stops following, and waits for the loop and any
   * failover in progress, at most `timeoutMs`. Idempotent.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping.abort();
    const finish = async () => {
      await this.#run;
      await this.#failover;
      await this.#unsubscribe?.();
    };
    await withTimeout(finish, timeoutMs, () => new ReplicationError('timeout', `failover watcher of ${this.#options.holder}: stop did not finish within ${timeoutMs} ms`));
  }

  get #stopped(): boolean {
    return this.#stopping.signal.aborted;
  }

  #callTimeout(): number {
    return this.#options.callTimeoutMs ?? Math.max(2000, this.#options.ttlMs);
  }

  async #campaignLoop(): Promise<void> {
    const { authority, holder, ttlMs } = this.#options;
    while (!this.#stopped) {
      let leadership: Leadership;
      try {
        leadership = await authority.campaign(holder, { ttlMs, timeoutMs: this.#callTimeout(), signal: this.#stopping.signal });
      } catch (error) {
        if (this.#stopped) return;
        if (error instanceof ReplicationError && error.reason === 'timeout') {
          // Someone else leads: note who, and catch up on the record in case a watch event was missed.
          await this.#observe();
          continue;
        }
        this.#warn('replication: cannot campaign for the failover leadership', error);
        await sleep(Math.max(500, this.#options.checkIntervalMs), this.#stopping.signal);
        continue;
      }
      if (this.#stopped) {
        await leadership.resign().catch(() => undefined);
        return;
      }
      await this.#lead(leadership);
    }
  }

  /** While leading: probe, and fail over once the primary has been down for the failover timeout. */
  async #lead(leadership: Leadership): Promise<void> {
    const { checkIntervalMs, failoverTimeoutMs, holder } = this.#options;
    this.#state = { ...this.#state, leader: true, holder };
    this.#resetFailures();
    this.#logger.log('info', 'replication: this instance leads automatic failover', { holder });
    const acting = AbortSignal.any([leadership.lost, this.#stopping.signal]);
    // The previous leader may have failed over just before it went: follow that first.
    await this.#observe();
    while (!acting.aborted) {
      const started = Date.now();
      const ok = await this.#probe(acting);
      if (acting.aborted) break;
      this.#state = { ...this.#state, lastProbeOk: ok, lastProbeAt: new Date(started).toISOString() };
      if (ok) this.#resetFailures();
      else {
        // Counted from when the first failure was seen, not from when that probe began: a probe already in flight
        // when the primary died would otherwise start the clock before the outage, and fail over early.
        this.#failingSince ??= Date.now();
        this.#failedProbes += 1;
      }
      const downForMs = this.#failingSince === undefined ? 0 : Date.now() - this.#failingSince;
      if (!ok && this.#failedProbes >= 2 && downForMs >= failoverTimeoutMs) {
        this.#logger.log('warn', 'replication: the primary failed every check; failing over', { holder, downForMs, failedProbes: this.#failedProbes });
        await this.#failOver(leadership, acting);
        this.#resetFailures();
        continue;
      }
      await sleep(checkIntervalMs - (Date.now() - started), acting);
    }
    this.#state = { ...this.#state, leader: false, lastProbeOk: undefined, lastProbeAt: undefined };
    this.#resetFailures();
    if (leadership.lost.aborted) {
      const reason = leadership.lost.reason as unknown;
      this.#logger.log('warn', 'replication: lost the failover leadership; no longer acting', { holder, reason: reason instanceof Error ? reason.message : String(reason) });
    } else {
      await leadership.resign().catch(() => undefined);
    }
  }

  /** One onPrimaryDown at a time, even across leaderships; the loop stops waiting at once when the lease is lost. */
  async #failOver(leadership: Leadership, acting: AbortSignal): Promise<void> {
    if (this.#failover) await this.#failover;
    if (acting.aborted) return;
    this.#state = { ...this.#state, failovers: this.#state.failovers + 1 };
    const run = this.#options
      .onPrimaryDown(leadership)
      .catch((error: unknown) => this.#logger.log('error', 'replication: automatic failover failed', { holder: this.#options.holder, error: describe(error) }))
      .finally(() => {
        if (this.#failover === run) this.#failover = undefined;
      });
    this.#failover = run;
    await new Promise<void>((resolve) => {
      if (acting.aborted) return resolve();
      const done = () => {
        acting.removeEventListener('abort', done);
        resolve();
      };
      acting.addEventListener('abort', done, { once: true });
      void run.finally(done);
    });
  }

  async #probe(acting: AbortSignal): Promise<boolean> {
    const { checkIntervalMs, failoverTimeoutMs } = this.#options;
    const limit = this.#options.probeTimeoutMs ?? Math.min(Math.max(checkIntervalMs, 1000), failoverTimeoutMs / 2);
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, acting]);
    try {
      return await withTimeout(() => this.#options.probePrimary(signal), limit, () => new Error(`no answer within ${limit} ms`));
    } catch {
      return false;
    } finally {
      controller.abort();
    }
  }

  /** Subscribes to record changes (retrying while the authority is unreachable), then reads the current record. */
  async #follow(): Promise<void> {
    while (!this.#stopped) {
      try {
        const unsubscribe = await this.#options.authority.watch((record) => this.#deliver(record));
        if (this.#stopped) await unsubscribe();
        else this.#unsubscribe = unsubscribe;
        await this.#observe();
        return;
      } catch (error) {
        this.#warn('replication: cannot watch the cluster record', error);
        await sleep(1000, this.#stopping.signal);
      }
    }
  }

  /** Reads the leader and the record (bounded); a failure here is only logged, the loops go on. */
  async #observe(): Promise<void> {
    const { authority } = this.#options;
    const timeoutMs = this.#callTimeout();
    try {
      const [holder, record] = await Promise.all([authority.leader({ timeoutMs }), authority.read({ timeoutMs })]);
      if (!this.#state.leader) this.#state = { ...this.#state, holder };
      if (record) this.#deliver(record);
    } catch (error) {
      if (!this.#stopped) this.#warn('replication: cannot read the failover authority', error);
    }
  }

  #deliver(record: ClusterRecord): void {
    const key = `${record.epoch}|${record.primary}|${record.at}`;
    if (key === this.#lastRecord) return;
    this.#lastRecord = key;
    try {
      this.#options.onRecord(record);
    } catch (error) {
      this.#logger.log('error', 'replication: following the cluster record failed', { epoch: record.epoch, primary: record.primary, error: describe(error) });
    }
  }

  #resetFailures(): void {
    this.#failingSince = undefined;
    this.#failedProbes = 0;
  }

  /** Warns once, then again only every 30 s while the trouble lasts. */
  #warn(message: string, error: unknown): void {
    const now = Date.now();
    if (now - this.#warnedAt < REPEAT_WARNING_MS) return;
    this.#warnedAt = now;
    this.#logger.log('warn', message, { holder: this.#options.holder, error: describe(error) });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
