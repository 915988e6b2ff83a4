import type { ReplicationEndpoint } from './replication-link.js';

/**
 * The master's replication offset now (`master_repl_offset` of INFO replication), read on a short connection of its
 * own (the replication link cannot ask questions), or undefined when the master does not answer within `timeoutMs`.
 * A capture that stops reads up to it: every write the master had acknowledged before the stop is then stored,
 * whatever the link was doing at that moment (paused while a segment was written, or behind on a loaded machine).
 */
export async function masterOffset(endpoint: ReplicationEndpoint, timeoutMs: number): Promise<number | undefined> {
  const { Redis } = await import('ioredis');
  const client = new Redis({
    host: endpoint.host, port: endpoint.port, username: endpoint.username, password: endpoint.password, tls: endpoint.tls,
    lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, protocol: 2,
  });
  // Failures surface as the rejected command; the listener keeps ioredis from printing them.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = await client.info('replication');
    const match = /^master_repl_offset:(\d+)\r?$/m.exec(info);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}
