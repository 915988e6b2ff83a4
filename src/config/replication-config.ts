import { z } from 'zod';
import type { ReplicationConfig } from '../replication/replication-types.js';
import { flag, integer, issueAt, list, nonEmptyText, object, oneOf, secretText, text } from './config-fields.js';
import { parseConfig } from './parse-config.js';
import { DEFAULT_ETCD_PREFIX, DEFAULT_LEASE_TTL_MS, etcdAuthoritySchema } from './etcd-authority-schema.js';

/** Defaults of the replication fields a configuration leaves out, in one place (docs/replication.md lists them). */
export const REPLICATION_DEFAULTS = Object.freeze({
  failoverTimeout: 30_000,
  syncReplicas: 1,
  syncMethod: 'any' as const,
  /** Patroni's maximum_lag_on_failover default. */
  maximumLagOnFailover: 1_048_576,
  leaseTtl: DEFAULT_LEASE_TTL_MS,
  prefix: DEFAULT_ETCD_PREFIX,
  readPreference: 'primary' as const,
});

const port = integer(1, 65_535);

const replicaSchema = object(
  {
    type: text().optional(),
    host: nonEmptyText('Give the replica\'s host, e.g. "replica1.example.com"'),
    port,
    database: text().optional(),
    username: text().optional(),
    password: secretText().optional(),
    name: z.string().regex(/^[A-Za-z0-9_.:-]{1,63}$/, { error: () => 'is not a usable member name. Use up to 63 letters, digits, _ . : or -' }).optional(),
    region: nonEmptyText('Give the region as a name, e.g. "eu-west"').optional(),
    dataDir: nonEmptyText('Give the absolute path of its data directory on this machine').optional(),
    sync: flag().optional(),
    priority: integer(0, 1000).optional(),
  },
  'Write a replica as {"type": "postgresql", "host": "...", "port": 5432}',
);

/** The seed's ReplicationConfig ({enabled, mode, replicas, failoverTimeout}) with the fields docs/replication.md adds. */
export const replicationConfigSchema = object(
  {
    enabled: flag(),
    mode: oneOf(['sync', 'async'], 'a replication mode'),
    replicas: list(replicaSchema, 'Write replicas as [{"type": "postgresql", "host": "...", "port": 5432}]', 'an array of replicas'),
    failoverTimeout: integer(500, 3_600_000, ' (milliseconds)').optional(),
    database: nonEmptyText('Give the id of the configured database that is the primary').optional(),
    primary: object(
      {
        name: z.string().regex(/^[A-Za-z0-9_.:-]{1,63}$/, { error: () => 'is not a usable member name. Use up to 63 letters, digits, _ . : or -' }).optional(),
        region: nonEmptyText('Give the region as a name').optional(),
        dataDir: nonEmptyText('Give the absolute path of the primary\'s data directory on this machine').optional(),
        // Where the primary is when the database's own address is not a member's: a Redis database that connects
        // through its Sentinels (host "sentinel-group") names its current master here.
        host: nonEmptyText('Give the primary\'s host, e.g. "10.0.0.5"').optional(),
        port: port.optional(),
      },
      'Write primary as {"name": "pg1", "dataDir": "/var/lib/postgresql/15/main"}',
    ).optional(),
    syncReplicas: integer(1, 64).optional(),
    syncMethod: oneOf(['any', 'first'], 'a sync method', 'Use "any" (a quorum of syncReplicas) or "first" (the first syncReplicas in priority order)').optional(),
    maximumLagOnFailover: integer(0, Number.MAX_SAFE_INTEGER, ' (bytes)').optional(),
    checkInterval: integer(50, 60_000, ' (milliseconds)').optional(),
    automaticFailover: flag().optional(),
    authority: etcdAuthoritySchema.optional(),
    failoverRegions: list(nonEmptyText('Give a region name'), 'Write failoverRegions as ["eu-west", "eu-central"]').optional(),
    readPreference: oneOf(['primary', 'primaryPreferred', 'replica', 'replicaPreferred'], 'a read preference').optional(),
    maxReadLag: integer(0, Number.MAX_SAFE_INTEGER, ' (bytes)').optional(),
    degradeToAsyncAfter: integer(0, 86_400_000, ' (milliseconds)').optional(),
    rejoinOldPrimary: flag().optional(),
  },
  'Write {"enabled": true, "mode": "async", "replicas": [...]}',
).superRefine((config, ctx) => {
  const names = new Map<string, number>();
  config.replicas.forEach((replica, i) => {
    const name = replica.name ?? `${replica.host}:${replica.port}`;
    const first = names.get(name);
    if (first !== undefined) issueAt(ctx, ['replicas', i, replica.name ? 'name' : 'port'], `repeats replicas[${first}] (${name})`, 'Give every replica its own name, or its own host and port');
    names.set(name, i);
  });
  if (config.enabled && config.replicas.length === 0) issueAt(ctx, ['replicas'], 'is empty', 'List at least one replica, or set enabled: false');
  const syncCount = config.syncReplicas ?? REPLICATION_DEFAULTS.syncReplicas;
  const syncCapable = config.replicas.filter((r) => r.sync !== false).length;
  if (config.mode === 'sync' && config.enabled && syncCount > syncCapable) {
    issueAt(ctx, ['syncReplicas'], `asks ${syncCount} synchronous replica(s) but only ${syncCapable} replica(s) may be synchronous`, 'Lower syncReplicas, add replicas, or remove "sync": false from one');
  }
  if (config.automaticFailover === true && config.authority === undefined) {
    issueAt(ctx, ['automaticFailover'], 'needs an authority that survives this process (a lease in etcd)', 'Add "authority": {"type": "etcd", "endpoints": ["http://127.0.0.1:2379"]}, or set automaticFailover: false');
  }
  if (config.checkInterval !== undefined && config.checkInterval * 2 > (config.failoverTimeout ?? REPLICATION_DEFAULTS.failoverTimeout)) {
    issueAt(ctx, ['checkInterval'], 'is more than half of failoverTimeout, so one failed check could start a failover', 'Make checkInterval at most failoverTimeout / 2');
  }
});

export type ReplicationSection = z.output<typeof replicationConfigSchema>;

// The documented interface (replication-types.ts) and the schema must accept the same objects: both directions
// are checked by the compiler here.
export const schemaAcceptsInterface = (config: ReplicationConfig): z.input<typeof replicationConfigSchema> => config;
export const interfaceAcceptsSchema = (config: z.input<typeof replicationConfigSchema>): ReplicationConfig => config;

/** Checks a replication configuration (from the file's `replication` section or setupReplication's argument). */
export function parseReplicationConfig(input: unknown, field = 'replication'): ReplicationSection {
  return parseConfig(replicationConfigSchema, input, field);
}
