import type { MongoClientOptions } from 'mongodb';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { mongoClientOptions } from '../mongo-client-options.js';
import { memberName } from './member-name.js';

/** URL options that would make the driver discover the set or balance across hosts instead of talking to one member. */
const TOPOLOGY_OPTIONS = new Set(['replicaset', 'directconnection', 'loadbalanced', 'srvservicename', 'srvmaxhosts']);

/**
 * How to talk to exactly one member (`directConnection`): replication commands (replSetGetStatus, replSetStepDown,
 * replSetFreeze) are about the member that runs them, so they must not be routed to whichever member the driver picks.
 * The credentials, TLS and auth options are the node's configuration's (mongoClientOptions); a configured URL
 * keeps its path and options but its hosts are replaced by this node's `host:port`. A mongodb+srv URL implies TLS, so
 * its direct form keeps TLS on unless the URL says otherwise.
 */
export function nodeConnectionPlan(node: ReplicationNode, timeoutMs: number): { url: string; options: MongoClientOptions } {
  const plan = mongoClientOptions(node.config);
  const source = node.config.url;
  const { path, query } = splitUrl(source);
  for (const key of [...query.keys()]) if (TOPOLOGY_OPTIONS.has(key.toLowerCase())) query.delete(key);
  if (source?.startsWith('mongodb+srv:') && ![...query.keys()].some((k) => ['tls', 'ssl'].includes(k.toLowerCase()))) query.set('tls', 'true');
  const host = node.host.startsWith('/') ? encodeURIComponent(node.host) : memberName(node.host, node.port);
  const search = query.toString();
  const url = `mongodb://${host}${path}${search ? `?${search}` : ''}`;
  const limit = Math.max(1, Math.floor(timeoutMs));
  const options: MongoClientOptions = { ...plan.options, directConnection: true, maxPoolSize: 2, monitorCommands: false, serverSelectionTimeoutMS: limit, connectTimeoutMS: limit, socketTimeoutMS: limit };
  delete options.replicaSet;
  return { url, options };
}

/** The path ("/db" or "/") and query of a mongodb:// URL, whose host list (several hosts) no URL parser accepts. */
function splitUrl(url: string | undefined): { path: string; query: URLSearchParams } {
  if (url === undefined) return { path: '/', query: new URLSearchParams() };
  const rest = url.slice(url.indexOf('://') + 3);
  const cut = rest.search(/[/?]/);
  const tail = cut < 0 ? '' : rest.slice(cut);
  const q = tail.indexOf('?');
  const path = (q < 0 ? tail : tail.slice(0, q)) || '/';
  return { path: path.startsWith('/') ? path : `/${path}`, query: new URLSearchParams(q < 0 ? '' : tail.slice(q + 1)) };
}
