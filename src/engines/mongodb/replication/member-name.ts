import type { ReplicationNode } from '../../../replication/replication-part.js';

/**
 * `host:port` as MongoDB writes member names: lower-case host (host names are case-insensitive), IPv6 in brackets.
 * datakeep's nodes are matched to replica set members by it, so name nodes with the host the set's configuration
 * uses (rs.conf().members[n].host): "localhost:27017" and "127.0.0.1:27017" are different members to MongoDB too.
 */
export function memberName(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}

/** Whether `member` (a replSetGetStatus/rs.conf() name) is this node: by host:port, or by the node's configured name. */
export function isNode(node: ReplicationNode, member: string): boolean {
  return sameMember(memberName(node.host, node.port), member) || node.name === member;
}

export function sameMember(a: string, b: string): boolean {
  return normalize(a) === normalize(b);
}

function normalize(name: string): string {
  const cut = name.lastIndexOf(':');
  if (cut < 0) return name.toLowerCase();
  const port = Number(name.slice(cut + 1));
  return Number.isInteger(port) ? memberName(name.slice(0, cut), port) : name.toLowerCase();
}

/** Splits a member name into host and port (27017 when it has none, as MongoDB assumes). */
export function splitMemberName(name: string): { host: string; port: number } {
  const cut = name.lastIndexOf(':');
  const port = cut < 0 ? NaN : Number(name.slice(cut + 1));
  if (cut < 0 || !Number.isInteger(port) || name.endsWith(']')) return { host: name.replace(/^\[(.*)\]$/, '$1'), port: 27017 };
  return { host: name.slice(0, cut).replace(/^\[(.*)\]$/, '$1'), port };
}
