import type { Redis } from 'ioredis';

type SentinelConnect = (this: unknown, ...args: unknown[]) => Redis;

/**
 * ioredis' Sentinel connector opens connections of its own to the Sentinels: short-lived ones to ask for the master,
 * and, with `failoverDetector`, lasting ones subscribed to `+switch-master`. The lasting ones get no 'error' listener,
 * so when a Sentinel is down or goes away ioredis prints "[ioredis] Unhandled error event" with console.error, past
 * any logger, and does so again on each reconnect. ioredis offers no option for it; this wraps the connector's
 * `connectToSentinel` on this client so that every Sentinel connection reports its errors to `onError`.
 * A client without a Sentinel connector (standalone mode) is left alone.
 */
export function routeSentinelErrors(client: Redis, onError: (error: Error) => void): void {
  const connector = (client as unknown as { connector?: { connectToSentinel?: SentinelConnect } }).connector;
  const connectToSentinel = connector?.connectToSentinel;
  if (!connector || typeof connectToSentinel !== 'function') return;
  connector.connectToSentinel = function (this: unknown, ...args: unknown[]): Redis {
    const sentinel = connectToSentinel.apply(this, args);
    sentinel.on('error', onError);
    return sentinel;
  };
}
