import { createRoute, z, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { requireRole } from '../auth/authenticate.js';
import type { Role } from '../auth/roles.js';
import type { ServerEnv } from '../server-env.js';
import type { ServiceDeps } from '../service-deps.js';

/** Every route group registers its routes on the API app with the service's dependencies. */
export type RouteGroup = (app: OpenAPIHono<ServerEnv>, deps: ServiceDeps) => void;

export const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi('Error');
export const JobAccepted = z.object({ jobId: z.string() }).openapi('JobAccepted');
/** A database id query parameter, optional. */
export const DatabaseQuery = z.object({ database: z.string().min(1).optional().openapi({ description: 'a database id (datakeep config check lists them)' }) });

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });

const errors = {
  400: json(ErrorSchema, 'bad request: the message names the field'),
  401: json(ErrorSchema, 'no token, or a token that is unknown or revoked'),
  403: json(ErrorSchema, 'the token\'s role is too low: the message says which role is needed'),
  404: json(ErrorSchema, 'not found'),
  429: json(ErrorSchema, 'too many failed authentication attempts'),
};

interface RouteSpec<R> {
  method: 'get' | 'post';
  path: string;
  role: Role;
  summary: string;
  tags: string[];
  request?: R;
  /** The success response: a schema and its status (202 for jobs). */
  response?: { status: 200 | 202; schema: z.ZodType; description?: string };
}

/**
 * A route with its OpenAPI description, the role it needs and the standard error responses. The role is enforced by
 * middleware on the route itself, so the OpenAPI document and the check cannot disagree.
 */
export function route<const R extends RouteConfig['request'] = undefined>(spec: RouteSpec<R>) {
  const status = spec.response?.status ?? 200;
  const middleware: MiddlewareHandler<ServerEnv>[] = [requireRole(spec.role)];
  const success = json(spec.response?.schema ?? z.unknown(), spec.response?.description ?? 'ok');
  return createRoute({
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    description: `Needs the ${spec.role} role.`,
    tags: spec.tags,
    security: [{ bearer: [] }],
    middleware,
    request: spec.request as R,
    // Both success statuses are declared in the types (handlers answer c.json(x, 200) or c.json(x, 202)); the document
    // lists the one the route uses.
    responses: (status === 200 ? { 200: success, ...errors } : { 202: success, ...errors }) as { 200: typeof success; 202: typeof success } & typeof errors,
  });
}

/** A JSON request body schema entry. */
export function body<T extends z.ZodType>(schema: T) {
  return { body: { content: { 'application/json': { schema } }, required: true } };
}
