import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { HealthStatus } from '../adapters/health-status.js';
import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import { getEngine } from '../engines/engine-registry.js';
import { DatakeepError, TimeoutError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';

export interface DatabaseProbe {
  readonly status: HealthStatus;
  /** Why the database could not be opened (its status is then `unhealthy` with this reason); undefined when it was. */
  readonly openError?: DatakeepError;
}

/** The longest backoff between two connection attempts (resilience/backoff.ts caps its full-jitter delay there). */
const MAX_BACKOFF_MS = 5_000;

/**
 * Opens each database on its own, probes its health and closes it again, all in parallel, each within its own time
 * limit. DataManager.initialize opens all or nothing, which is right for a program that needs every database; a
 * health report must instead show one unreachable database beside the healthy ones. Never throws.
 */
export async function probeDatabases(configs: readonly ResolvedDatabaseConfig[], logger: Logger): Promise<DatabaseProbe[]> {
  return Promise.all(configs.map((config) => probeDatabase(config, logger)));
}

async function probeDatabase(config: ResolvedDatabaseConfig, logger: Logger): Promise<DatabaseProbe> {
  const started = performance.now();
  // As long as connecting may take with every retry the configuration allows, plus one timeout for the probe itself.
  const limitMs = config.timeout * (config.retryAttempts + 2) + MAX_BACKOFF_MS * config.retryAttempts;
  let adapter: DatabaseAdapter | undefined;
  let settled = false;
  const work = (async () => {
    adapter = await getEngine(config.type).create(config, { logger });
    await adapter.connect();
    return adapter.health();
  })().finally(() => (settled = true));
  // The adapter is closed once its work has settled: closing during a connection attempt would race it.
  const closed = work.then(() => undefined, () => undefined).then(() => adapter?.close()).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeoutError('connect', `${config.id}: no answer to the health probe within ${limitMs} ms (timeout ${config.timeout} ms, ${config.retryAttempts} retries)`, { timeoutMs: limitMs })), limitMs);
  });
  try {
    return { status: await Promise.race([work, deadline]) };
  } catch (raw) {
    const error = raw instanceof DatakeepError ? raw : new DatakeepError('DK_CONNECTION', `${config.id}: ${raw instanceof Error ? raw.message : String(raw)}`, { cause: raw });
    const status: HealthStatus = {
      adapterId: config.id, type: config.type, status: 'unhealthy', latency: Math.round(performance.now() - started), checkedAt: new Date(),
      reasons: [error.message], error: { code: error.code, message: error.message },
    };
    return { status, openError: error };
  } finally {
    clearTimeout(timer);
    // Past the deadline the report does not wait: the adapter's own timeouts end the attempt, and it is closed then.
    if (settled) await closed;
  }
}
