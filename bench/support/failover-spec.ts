// What the failover benchmark's child processes (watchers, writer) are told: one JSON argument, turned here into
// the DataManager and setupReplication configuration the lead's API (docs/replication.md, issue 12) takes.
import { DataManager } from '../../src/index.js';
import type { ReplicationConfig } from '../../src/replication/replication-types.js';

export interface FailoverSpec {
  readonly primary: { readonly port: number; readonly dataDir: string };
  readonly replicas: readonly { readonly name: string; readonly port: number; readonly dataDir: string }[];
  readonly mode: 'sync' | 'async';
  readonly failoverTimeout: number;
  readonly leaseTtl: number;
  readonly etcd: string;
  readonly stateDir: string;
  readonly automaticFailover: boolean;
  /** The database's circuitBreaker.resetTimeout (ms); absent: the library's default. */
  readonly breakerResetMs?: number;
}

export function replicationConfig(spec: FailoverSpec): ReplicationConfig {
  return {
    enabled: true,
    mode: spec.mode,
    replicas: spec.replicas.map((r) => ({ type: 'postgresql', host: '127.0.0.1', port: r.port, name: r.name, dataDir: r.dataDir })),
    failoverTimeout: spec.failoverTimeout,
    primary: { name: 'p0', dataDir: spec.primary.dataDir },
    authority: { type: 'etcd', endpoints: [spec.etcd], leaseTtl: spec.leaseTtl },
    automaticFailover: spec.automaticFailover,
  };
}

/** A DataManager on the cluster's first primary, replication set up as `spec` says; bounded by `timeoutMs`. */
export async function openMember(spec: FailoverSpec, timeoutMs: number): Promise<DataManager> {
  const dm = new DataManager({
    config: {
      databases: [{
        type: 'postgresql', host: '127.0.0.1', port: spec.primary.port, database: 'postgres', username: 'postgres',
        ...(spec.breakerResetMs ? { circuitBreaker: { resetTimeout: spec.breakerResetMs } } : {}),
      }],
      state: { dir: spec.stateDir },
      logLevel: 'warn',
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`initialize + setupReplication did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([(async () => {
      await dm.initialize();
      await dm.setupReplication(replicationConfig(spec));
    })(), limit]);
  } finally {
    clearTimeout(timer);
  }
  return dm;
}

export function parseSpec(arg: string | undefined): FailoverSpec {
  if (arg === undefined) throw new Error('usage: <script> <spec JSON>');
  return JSON.parse(arg) as FailoverSpec;
}
