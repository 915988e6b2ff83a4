import type { EngineFollower, EngineFollowHandlers, ReplicationNode } from '../../../replication/replication-part.js';
import { checkRedisConfig } from '../redis-client-options.js';
import { configureSentinels, sentinelEndpoints, sentinelTimings } from './sentinel-admin.js';
import { SentinelWatcher } from './sentinel-events.js';
import { SentinelRejoinGuard } from './sentinel-rejoin-guard.js';

/**
 * Sentinel is Redis's failover authority: datakeep sets its timings from failoverTimeout (down-after-milliseconds
 * bounds detection), listens for +switch-master to learn each failover, and runs the rejoin guard that fences a
 * former master coming back as a master. A Redis database without Sentinels has nothing to follow.
 */
export async function followSentinels(primary: ReplicationNode, handlers: EngineFollowHandlers, options: { failoverTimeoutMs: number; timeoutMs: number }): Promise<EngineFollower | undefined> {
  const settings = checkRedisConfig(primary.config);
  if (settings === undefined) return undefined;
  const sentinels = sentinelEndpoints(settings, primary.config);
  const configured = await configureSentinels(sentinels, settings.masterName, {
    host: primary.host, port: primary.port, ...sentinelTimings(options.failoverTimeoutMs), username: primary.config.username, password: primary.config.password,
  }, options.timeoutMs);
  const watcher = await SentinelWatcher.start(sentinels, settings.masterName, (event) => {
    if (event.type === '+switch-master' && event.newMaster) handlers.primaryChanged(event.newMaster, `Sentinel ${event.sentinel}: +switch-master ${event.message}`);
  }, { timeoutMs: options.timeoutMs });
  const guard = await SentinelRejoinGuard.start({
    sentinels, masterName: settings.masterName, config: primary.config, timeoutMs: options.timeoutMs,
    onFenced: handlers.fenced, onError: handlers.failed,
  }).catch(async (error: unknown) => {
    await watcher.close();
    throw error;
  });
  return {
    configured,
    stop: async () => {
      await Promise.allSettled([watcher.close(), guard.close()]);
    },
  };
}
