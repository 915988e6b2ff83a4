import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { ApiError } from '../api-error.js';
import type { ServerEnv } from '../server-env.js';
import type { FailedAttempts } from './failed-attempts.js';
import { allows, type Role } from './roles.js';
import type { TokenStore } from './token-store.js';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="datakeep"' };

/**
 * Bearer-token authentication for every API route: the token is looked up (hashed) on each request, so a revoked one
 * is refused at once. A client address with too many failures in the last minute gets 429 with Retry-After before its
 * token is even looked at. The principal is kept on the context for requireRole and the audit actor.
 */
export function authenticate(tokens: () => TokenStore, failures: FailedAttempts): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const client = clientAddress(c);
    const wait = failures.retryAfter(client);
    if (wait > 0) throw new ApiError(429, 'rate_limited', `too many failed authentication attempts from this address; retry in ${wait} s`, { 'Retry-After': String(wait) });
    const header = c.req.header('authorization');
    if (header === undefined || header.trim() === '') {
      throw new ApiError(401, 'unauthorized', 'no token: send "Authorization: Bearer dk_..." (create one with datakeep token create)', CHALLENGE);
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = match ? await tokens().verify(match[1]!) : undefined;
    if (!principal) {
      failures.fail(client, header);
      throw new ApiError(401, 'unauthorized', match ? 'the token is unknown or revoked' : 'the Authorization header must be "Bearer <token>"', CHALLENGE);
    }
    c.set('principal', principal);
    await next();
  };
}

/** Refuses (403, naming the role needed) a principal whose role is below `needed`. */
export function requireRole(needed: Role): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    if (!allows(principal.role, needed)) {
      throw new ApiError(403, 'forbidden', `this needs the ${needed} role; the token "${principal.name}" has ${principal.role}`);
    }
    await next();
  };
}

function clientAddress(c: Parameters<MiddlewareHandler<ServerEnv>>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
