import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { ReplicationError } from '../../../errors/index.js';
import type { FenceResult, ReplicationNode } from '../../../replication/replication-part.js';
import { fenceRedis } from './redis-fence.js';
import { describe, withRedisNode, type RedisEndpoint } from './redis-node-connection.js';
import { readReplicationInfo } from './redis-replication-info.js';
import { sentinelMasterAddress } from './sentinel-admin.js';
import { SentinelWatcher, type SentinelEvent } from './sentinel-events.js';

export interface RejoinGuardOptions {
  readonly sentinels: readonly RedisEndpoint[];
  readonly masterName: string;
  /** The data nodes' connection settings (credentials, TLS); host and port come from the event. */
  readonly config: ResolvedDatabaseConfig;
  readonly timeoutMs: number;
  /** Called with each former master made a replica, and what was done. */
  readonly onFenced?: (node: string, result: FenceResult) => void;
  readonly onError?: (error: Error) => void;
}

/**
 * A former master that restarts after a failover comes up as a master (its configuration says nothing else when it
 * died before Sentinel could rewrite it), and Sentinel converts it into a replica only after it has reported the
 * master role for about 8 s. Through the Sentinels nobody is routed to it, but a client configured with its address
 * could write there meanwhile, and those writes are discarded by the resynchronisation. This guard closes most of
 * that window: when Sentinel announces that a replica it knows is back (-sdown slave), and that node reports itself a
 * master while the Sentinels name another, healthy, master, it is fenced at once (REPLICAOF the current master,
 * clients disconnected, CONFIG REWRITE).
 *
 * A master the Sentinels replaced while it was alive (a pause or a stall longer than down-after, as a loaded machine
 * gives) is the same danger without a restart: it never goes -sdown as a slave, so the guard also looks at the old
 * master of every +switch-master. There an old master that does not answer is the usual case (it died), not an error.
 */
export class SentinelRejoinGuard {
  readonly #watcher: SentinelWatcher;

  private constructor(watcher: SentinelWatcher) {
    this.#watcher = watcher;
  }

  static async start(options: RejoinGuardOptions): Promise<SentinelRejoinGuard> {
    // Every Sentinel announces the node's return; one check at a time per node (a fence closes the node's normal
    // client connections, which would include a second check's).
    const inFlight = new Set<string>();
    const onEvent = (event: SentinelEvent) => {
      const returned = event.type === '-sdown' && event.instance?.kind === 'slave' ? event.instance : undefined;
      const replaced = event.type === '+switch-master' ? event.oldMaster : undefined;
      const target = returned ?? replaced;
      if (!target) return;
      const key = `${target.host}:${target.port}`;
      if (inFlight.has(key)) return;
      inFlight.add(key);
      fenceIfMaster(options, target.host, target.port)
        .catch((error: unknown) => {
          if (replaced && error instanceof ReplicationError && (error.reason === 'unreachable' || error.reason === 'timeout')) return;
          options.onError?.(error instanceof Error ? error : new Error(describe(error)));
        })
        .finally(() => inFlight.delete(key));
    };
    return new SentinelRejoinGuard(await SentinelWatcher.start(options.sentinels, options.masterName, onEvent, { timeoutMs: options.timeoutMs }));
  }

  close(): Promise<void> {
    return this.#watcher.close();
  }
}

async function fenceIfMaster(options: RejoinGuardOptions, host: string, port: number): Promise<void> {
  const node = memberNode(options.config, host, port);
  const role = await withRedisNode({ ...node, username: options.config.username, password: options.config.password, config: node.config }, 'rejoin guard', options.timeoutMs, readReplicationInfo);
  if (role.role !== 'master') return;
  const master = await sentinelMasterAddress(options.sentinels, options.masterName, options.timeoutMs);
  if (master.host === host && master.port === port) return;
  const current = memberNode(options.config, master.host, master.port);
  // Never point a node at a master that is not one: mid-failover the Sentinels may still name the dead master.
  const currentRole = await withRedisNode({ ...current, username: options.config.username, password: options.config.password, config: current.config }, 'rejoin guard', options.timeoutMs, readReplicationInfo);
  if (currentRole.role !== 'master') return;
  options.onFenced?.(node.name, await fenceRedis(node, current, options.timeoutMs));
}

function memberNode(config: ResolvedDatabaseConfig, host: string, port: number): ReplicationNode {
  return { name: `${host}:${port}`, host, port, region: undefined, dataDir: undefined, sync: true, priority: 0, config: { ...config, host, port } };
}
