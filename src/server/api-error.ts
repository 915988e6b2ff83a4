import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { CapabilityError, ConfigurationError, DatakeepError, LockError, UnknownAdapterError, UsageError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import { redactUrlPasswords } from '../util/secrets.js';

/** An HTTP error of the API, answered as `{error: {code, message}}`. */
export class ApiError extends Error {
  constructor(readonly status: ContentfulStatusCode, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'not_found', `${what} not found`);

/**
 * The response for any error a route throws. Errors of datakeep carry messages written for users (what is wrong and
 * how to fix it, URL passwords redacted): they are passed on with a status that fits them. Anything else is logged
 * and answered with a generic 500: no stack, no driver message that could hold a secret.
 */
export function errorResponse(c: Context, error: unknown, logger: Logger): Response {
  if (error instanceof ApiError) return c.json({ error: { code: error.code, message: error.message } }, error.status, error.headers);
  if (error instanceof DatakeepError) {
    const status: ContentfulStatusCode =
      error instanceof UsageError || error instanceof ConfigurationError ? 400
      : error instanceof UnknownAdapterError ? 404
      : error instanceof LockError ? 409
      : error instanceof CapabilityError ? 409
      : statusOfReason(error);
    if (status >= 500) logger.log('error', 'API request failed', { method: c.req.method, path: c.req.path, error });
    return c.json({ error: { code: error.code, message: redactUrlPasswords(error.message) } }, status);
  }
  logger.log('error', 'API request failed', { method: c.req.method, path: c.req.path, error });
  return c.json({ error: { code: 'internal', message: 'internal error; the service log has the details' } }, 500);
}

/** Library errors whose reason says the request was wrong rather than the service. */
function statusOfReason(error: DatakeepError): ContentfulStatusCode {
  const reason = (error as { reason?: unknown }).reason;
  if (reason === 'unknown-version' || reason === 'not-a-repository' || reason === 'invalid-argument' || reason === 'unsafe-destination' || reason === 'target-unreachable') return 400;
  return 500;
}
