import type { RedisOptions } from 'ioredis';
import { UsageError } from '../../../errors/index.js';

/**
 * A live restore target's URL as ioredis options: redis://[user[:password]@]host[:port] or rediss:// (TLS, verified
 * against the system CAs). Keys keep their database index, so the URL's path (a db index) is not used.
 */
export function restoreTargetOptions(url: string, field = 'target.url'): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(field, 'is not a URL; give e.g. redis://127.0.0.1:6379 (or rediss:// for TLS)');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new UsageError(field, `has scheme ${parsed.protocol}; give a redis:// or rediss:// URL`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    connectTimeout: 10_000,
  };
}

/** The target for messages and results: no credentials. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}`;
  } catch {
    return 'the target';
  }
}
