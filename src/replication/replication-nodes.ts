import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import type { ReplicationSection } from '../config/replication-config.js';
import { withEndpoint } from '../config/resolve-database-config.js';
import { findEngineByType } from '../engines/engine-registry.js';
import { ConfigurationError } from '../errors/index.js';
import type { ReplicationNode } from './replication-part.js';

/** The members of a replicated database, in configuration order: the configured primary first, then the replicas. */
export interface ClusterMembers {
  readonly nodes: readonly ReplicationNode[];
  /** The node the configuration names as the primary (the adapter's endpoint); the live primary may differ. */
  readonly configuredPrimary: ReplicationNode;
}

/**
 * Builds the members from the replication section and the primary database's configuration: each replica connects
 * with the primary's settings (TLS, timeouts, credentials) unless it gives its own.
 */
export function clusterMembers(section: ReplicationSection, primary: ResolvedDatabaseConfig, field = 'replication'): ClusterMembers {
  const host = section.primary?.host ?? primary.host;
  const port = section.primary?.port ?? primary.port;
  const primaryNode: ReplicationNode = {
    name: section.primary?.name ?? `${host}:${port}`,
    host,
    port,
    region: section.primary?.region,
    dataDir: section.primary?.dataDir,
    sync: true,
    priority: 0,
    config: host === primary.host && port === primary.port ? primary : withEndpoint(primary, { id: primary.id, host, port }),
  };
  const replicas = section.replicas.map((replica, i): ReplicationNode => {
    // A replica's type may be any name of the primary's engine (its aliases included, e.g. "postgres").
    if (replica.type !== undefined && findEngineByType(replica.type)?.type !== primary.type) {
      throw new ConfigurationError(`${field}.replicas[${i}].type`, `is ${replica.type} but the primary (${primary.id}) is ${primary.type}`, `Replicate ${primary.type} to ${primary.type}: set type to "${primary.type}" or leave it out`);
    }
    const name = replica.name ?? `${replica.host}:${replica.port}`;
    return {
      name,
      host: replica.host,
      port: replica.port,
      region: replica.region,
      dataDir: replica.dataDir,
      sync: replica.sync ?? true,
      priority: replica.priority ?? i + 1,
      config: withEndpoint(primary, { id: `${primary.id}@${name}`, host: replica.host, port: replica.port, database: replica.database, username: replica.username, password: replica.password }),
    };
  });
  const clash = replicas.find((r) => r.name === primaryNode.name || (r.host === primaryNode.host && r.port === primaryNode.port));
  if (clash) {
    throw new ConfigurationError(`${field}.replicas`, `${clash.name} is the primary itself (${host}:${port})`, 'List only the other members as replicas; name the primary with replication.primary.name');
  }
  return { nodes: [primaryNode, ...replicas], configuredPrimary: primaryNode };
}

/** The member a user means by `target`: a member name, or `host:port` as the seed's dm.failover('replica1:5432') writes it. */
export function findMember(nodes: readonly ReplicationNode[], target: string): ReplicationNode | undefined {
  return nodes.find((n) => n.name === target) ?? nodes.find((n) => `${n.host}:${n.port}` === target);
}
