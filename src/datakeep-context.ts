import { AdapterRegistry } from './adapters/adapter-registry.js';
import type { DatakeepConfig, ResolvedDatakeepConfig } from './config/datakeep-config.js';
import type { DatabaseConfig } from './config/database-config.js';
import { loadConfig, resolveConfigObject } from './config/load-config.js';
import { LifecycleError } from './errors/index.js';
import type { MetricsRegistry } from './metrics/metrics-registry.js';
import { StateStore } from './state/state-store.js';
import { JobScheduler } from './scheduler/job-scheduler.js';
import { createStderrLogger, redactingLogger, type Logger, type LogLevel } from './util/logger.js';

export interface DataManagerOptions {
  /** Configuration in code; otherwise it is loaded from `configFile`, the environment, or the embedded default. */
  config?: DatakeepConfig;
  /** A config file to load (like `--config`). */
  configFile?: string;
  logger?: Logger;
}

/**
 * Everything an initialized DataManager holds: the resolved configuration, the adapters, and the state store (opened
 * on first use, because an embedded one takes a while to open and most calls never need it). Subsystems receive this
 * context; none reaches into another's internals.
 */
export class DatakeepContext {
  #state: Promise<StateStore> | undefined;
  #scheduler: JobScheduler | undefined;

  private constructor(
    readonly config: ResolvedDatakeepConfig,
    readonly registry: AdapterRegistry,
    readonly logger: Logger,
    /** Loads the configuration again from its file or environment; undefined when it was given in code. */
    readonly reload: (() => ResolvedDatakeepConfig) | undefined = undefined,
  ) {}

  /**
   * The configuration alone, without opening any database: what reading a backup repository needs (listing,
   * verifying and restoring must work while the database they protect is down).
   */
  static configuration(options: DataManagerOptions): ResolvedDatakeepConfig {
    return options.config !== undefined ? resolveConfigObject(options.config, 'DataManager options.config') : loadConfig({ file: options.configFile });
  }

  /**
   * The logger of a DataManager: the caller's, wrapped so that it receives redacted lines, else pino on stderr at
   * `logLevel` (pino's redact paths and the same redaction built in).
   */
  static logger(options: DataManagerOptions, logLevel: LogLevel): Logger {
    return options.logger ? redactingLogger(options.logger) : createStderrLogger(logLevel);
  }

  static async open(configs: readonly (DatabaseConfig | string)[] | undefined, options: DataManagerOptions, metrics?: MetricsRegistry): Promise<DatakeepContext> {
    let config: ResolvedDatakeepConfig;
    let reload: (() => ResolvedDatakeepConfig) | undefined;
    if (configs !== undefined) {
      config = resolveConfigObject({ ...options.config, databases: configs }, 'initialize(configs)');
    } else if (options.config !== undefined) {
      config = resolveConfigObject(options.config, 'DataManager options.config');
    } else {
      reload = () => loadConfig({ file: options.configFile });
      config = reload();
    }
    const logger = DatakeepContext.logger(options, config.logLevel);
    const registry = await AdapterRegistry.open(config.databases, logger, metrics);
    return new DatakeepContext(config, registry, logger, reload);
  }

  /** The state store, opened once on first call. */
  state(): Promise<StateStore> {
    this.#state ??= StateStore.open({ url: this.config.state.url, dir: this.config.state.dir }, this.logger).catch((error: unknown) => {
      this.#state = undefined;
      throw error;
    });
    return this.#state;
  }

  /** The cron scheduler of this DataManager (created on first use, stopped by close()). */
  scheduler(): JobScheduler {
    this.#scheduler ??= new JobScheduler(() => this.state(), this.logger);
    return this.#scheduler;
  }

  /** The scheduler if one was created (readers such as metrics must not create one). */
  get runningScheduler(): JobScheduler | undefined {
    return this.#scheduler;
  }

  async close(): Promise<void> {
    await this.#scheduler?.stop();
    const state = this.#state;
    this.#state = undefined;
    const results = await Promise.allSettled([this.registry.close(), state?.then((s) => s.close())]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Holds the context through the lifecycle: initialize once (concurrent calls share it), close once. */
export class ContextHolder {
  #opening: Promise<DatakeepContext> | undefined;
  #context: DatakeepContext | undefined;
  #closing: Promise<void> | undefined;

  initialize(open: () => Promise<DatakeepContext>): Promise<void> {
    if (this.#closing) return Promise.reject(new LifecycleError('initialize() after close(); create a new DataManager'));
    if (this.#opening) {
      return Promise.reject(new LifecycleError('initialize() was already called; call close() and create a new DataManager to change the configuration'));
    }
    this.#opening = open().then(
      (context) => (this.#context = context),
      (error: unknown) => {
        this.#opening = undefined;
        throw error;
      },
    );
    return this.#opening.then(() => undefined);
  }

  /** The context when initialized, else undefined (for work that needs only the configuration). */
  peek(): DatakeepContext | undefined {
    return this.#context;
  }

  get(): DatakeepContext {
    if (this.#context) return this.#context;
    throw new LifecycleError(this.#closing ? 'the DataManager is closed' : 'call initialize() first');
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const context = await this.#opening?.catch(() => undefined);
      // The context stays reachable while it closes: a scheduled run still in progress (which close() waits for)
      // must be able to finish its work.
      try {
        await context?.close();
      } finally {
        this.#context = undefined;
      }
    })();
    return this.#closing;
  }
}
