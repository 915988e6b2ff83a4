import { z } from '@hono/zod-openapi';
import { actorOf } from '../server-env.js';
import { ApiError } from '../api-error.js';
import type { ServiceDeps } from '../service-deps.js';
import { body, DatabaseQuery, JobAccepted, route, type RouteGroup } from './route-kit.js';

const tags = ['migrations'];

/** Migration status and plan ([] when the service has no migrations directory), and applying them (a job). */
export const migrationRoutes: RouteGroup = (app, deps) => {
  const { dm } = deps;
  app.openapi(route({ method: 'get', path: '/api/v1/migrations', role: 'viewer', summary: 'every migration of every database with its state', tags, request: { query: DatabaseQuery } }),
    async (c) => c.json(initialized(deps) ? await dm.migrations.status({ db: c.req.valid('query').database }) : [], 200));

  app.openapi(route({ method: 'get', path: '/api/v1/migrations/plan', role: 'viewer', summary: 'the migrations that apply would run, in order', tags, request: { query: DatabaseQuery } }),
    async (c) => c.json(initialized(deps) ? await dm.migrations.plan({ db: c.req.valid('query').database }) : [], 200));

  app.openapi(route({ method: 'post', path: '/api/v1/migrations/apply', role: 'admin', summary: 'apply pending migrations (a job)', tags,
    request: body(z.object({ database: z.string().min(1).optional() })), response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    if (!initialized(deps)) throw new ApiError(409, 'not_configured', 'no migrations directory: set "migrations": {"directory": ...} in the configuration file (or create ./migrations) and restart the service');
    const { database } = c.req.valid('json');
    const jobId = await deps.jobs().start('migrate.apply', database ?? null, actorOf(c.get('principal')), async (progress) => {
      const result = await dm.migrations.migrate({ db: database, onProgress: (event) => progress({ ...event }) });
      return { executed: result.migrationsExecuted.map((m) => ({ version: m.version, name: m.name })), alreadyApplied: result.alreadyApplied, warnings: result.warnings };
    });
    return c.json({ jobId }, 202);
  });
};

function initialized(deps: ServiceDeps): boolean {
  try {
    void deps.dm.migrations.config;
    return true;
  } catch {
    return false;
  }
}
