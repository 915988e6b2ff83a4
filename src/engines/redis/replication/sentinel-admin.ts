import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { ReplicationError, UsageError } from '../../../errors/index.js';
import type { RedisSentinelSettings } from '../redis-config.js';
import { call, describe, withRedisNode, type RedisEndpoint } from './redis-node-connection.js';

/** How Sentinel watches one master: quorum and timings (SENTINEL MONITOR / SENTINEL SET). */
export interface SentinelMonitorSettings {
  readonly host: string;
  readonly port: number;
  /** Sentinels that must agree the master is down (default: a majority of the Sentinels given). */
  readonly quorum?: number;
  /** down-after-milliseconds: how long the master may not answer before it counts as down. */
  readonly downAfterMs: number;
  /** failover-timeout: bound of one failover attempt (Sentinel waits twice this before retrying the same master). */
  readonly failoverTimeoutMs: number;
  /** parallel-syncs: replicas resynchronised with the new master at once (default 1). */
  readonly parallelSyncs?: number;
  /** Credentials of the data nodes, given to Sentinel as auth-user / auth-pass (never logged). */
  readonly username?: string;
  readonly password?: string;
}

/**
 * Sentinel timings from the replication configuration's failoverTimeout (which bounds detection): it becomes
 * down-after-milliseconds, and failover-timeout is six times it (at least 10 s): Sentinel's own defaults keep that
 * ratio (30 s and 3 min).
 */
export function sentinelTimings(failoverTimeout = 30_000): { downAfterMs: number; failoverTimeoutMs: number } {
  if (!Number.isInteger(failoverTimeout) || failoverTimeout < 100) throw new UsageError('failoverTimeout', `${String(failoverTimeout)} is not a whole number of milliseconds of at least 100; give e.g. 5000`);
  return { downAfterMs: failoverTimeout, failoverTimeoutMs: Math.max(10_000, 6 * failoverTimeout) };
}

/** The Sentinels of a Sentinel-mode configuration as endpoints, with their own credentials and the config's TLS. */
export function sentinelEndpoints(sentinel: RedisSentinelSettings, config?: ResolvedDatabaseConfig): RedisEndpoint[] {
  return sentinel.sentinels.map((s) => ({ name: `sentinel ${s.host}:${s.port}`, host: s.host, port: s.port, username: sentinel.sentinelUsername, password: sentinel.sentinelPassword, config }));
}

/**
 * Makes every Sentinel monitor `masterName` with these settings. A Sentinel that already monitors the name keeps the
 * master it knows (after a failover it knows better than the configuration) and only gets the timings. Returns
 * what was done per Sentinel; throws ReplicationError('unreachable') when fewer than a quorum could be configured.
 */
export async function configureSentinels(sentinels: readonly RedisEndpoint[], masterName: string, settings: SentinelMonitorSettings, timeoutMs: number): Promise<string[]> {
  const quorum = settings.quorum ?? Math.floor(sentinels.length / 2) + 1;
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > sentinels.length) throw new UsageError('quorum', `${quorum} must be between 1 and the ${sentinels.length} Sentinels given`);
  const results = await Promise.allSettled(
    sentinels.map((endpoint) =>
      withRedisNode(endpoint, 'configure sentinel', timeoutMs, async (client) => {
        let action = `${endpoint.name}: already monitors ${masterName}`;
        try {
          await call(client, ['SENTINEL', 'MASTER', masterName]);
        } catch {
          await call(client, ['SENTINEL', 'MONITOR', masterName, settings.host, settings.port, quorum]);
          action = `${endpoint.name}: SENTINEL MONITOR ${masterName} ${settings.host} ${settings.port} ${quorum}`;
        }
        const set: (string | number)[] = ['down-after-milliseconds', settings.downAfterMs, 'failover-timeout', settings.failoverTimeoutMs, 'parallel-syncs', settings.parallelSyncs ?? 1, 'quorum', quorum];
        if (settings.username !== undefined) set.push('auth-user', settings.username);
        if (settings.password !== undefined) set.push('auth-pass', settings.password);
        await call(client, ['SENTINEL', 'SET', masterName, ...set]);
        return `${action}; down-after-milliseconds ${settings.downAfterMs}, failover-timeout ${settings.failoverTimeoutMs}, parallel-syncs ${settings.parallelSyncs ?? 1}`;
      }),
    ),
  );
  const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${sentinels[i]!.name}: ${describe(r.reason)}`] : []));
  if (done.length < quorum) throw new ReplicationError('unreachable', `only ${done.length} of ${sentinels.length} Sentinels configured for ${masterName}, fewer than the quorum ${quorum}: ${failed.join('; ')}`, { step: 'configure sentinels' });
  return [...done, ...failed.map((f) => `not configured: ${f}`)];
}

/** Who the Sentinels say the master is: the address most of the answering Sentinels give. */
export async function sentinelMasterAddress(sentinels: readonly RedisEndpoint[], masterName: string, timeoutMs: number): Promise<{ host: string; port: number; agreeing: number; answered: number }> {
  const answers = await Promise.allSettled(
    sentinels.map((endpoint) => withRedisNode(endpoint, 'get master address', timeoutMs, async (client) => (await call(client, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName])) as [string, string] | null)),
  );
  const counts = new Map<string, number>();
  let answered = 0;
  for (const a of answers) {
    if (a.status !== 'fulfilled' || !a.value) continue;
    answered += 1;
    const key = `${a.value[0]}:${a.value[1]}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const best = [...counts].sort((x, y) => y[1] - x[1])[0];
  if (!best) {
    const reasons = answers.map((a, i) => `${sentinels[i]!.name}: ${a.status === 'rejected' ? describe(a.reason) : `does not monitor ${masterName}`}`);
    throw new ReplicationError('unreachable', `no Sentinel named the master of ${masterName}: ${reasons.join('; ')}`, { step: 'get master address' });
  }
  const colon = best[0].lastIndexOf(':');
  return { host: best[0].slice(0, colon), port: Number(best[0].slice(colon + 1)), agreeing: best[1], answered };
}

/** SENTINEL FAILOVER on the first Sentinel that accepts it: a failover without waiting for agreement that the master is down. */
export async function sentinelFailover(sentinels: readonly RedisEndpoint[], masterName: string, timeoutMs: number): Promise<string> {
  const reasons: string[] = [];
  for (const endpoint of sentinels) {
    try {
      await withRedisNode(endpoint, 'sentinel failover', timeoutMs, (client) => call(client, ['SENTINEL', 'FAILOVER', masterName]));
      return endpoint.name;
    } catch (error) {
      reasons.push(`${endpoint.name}: ${describe(error)}`);
    }
  }
  throw new ReplicationError('refused', `no Sentinel started a failover of ${masterName}: ${reasons.join('; ')}`, { step: 'sentinel failover' });
}
