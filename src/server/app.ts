import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { ApiError, errorResponse } from './api-error.js';
import { authenticate, requireRole } from './auth/authenticate.js';
import { FailedAttempts } from './auth/failed-attempts.js';
import { dashboardFile } from './dashboard-files.js';
import { RequestPacer } from './request-pacer.js';
import { SingleFlight } from './single-flight.js';
import { asActor } from '../state/audit-actor.js';
import { actorOf, type ServerEnv } from './server-env.js';
import type { ServiceDeps } from './service-deps.js';
import { auditRoutes } from './routes/audit-routes.js';
import { backupRoutes } from './routes/backup-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { lifecycleRoutes } from './routes/lifecycle-routes.js';
import { migrationRoutes } from './routes/migration-routes.js';
import { replicationRoutes } from './routes/replication-routes.js';
import { scheduleRoutes } from './routes/schedule-routes.js';
import { systemRoutes } from './routes/system-routes.js';
import { tokenRoutes } from './routes/token-routes.js';
import { transactionRoutes } from './routes/transaction-routes.js';
import { DATAKEEP_VERSION } from '../util/datakeep-version.js';

const GROUPS = [systemRoutes, backupRoutes, scheduleRoutes, migrationRoutes, transactionRoutes, lifecycleRoutes, replicationRoutes, jobRoutes, auditRoutes, tokenRoutes];

/**
 * The HTTP application: `/livez`, `/readyz` and the dashboard's static shell without a token; everything else behind
 * a bearer token with a role (the dashboard's page itself holds no data: it asks the API with the token the user
 * gives it). Every route's schema is in the OpenAPI document at /openapi.json.
 */
export function createApp(deps: ServiceDeps, failures = new FailedAttempts()): OpenAPIHono<ServerEnv> {
  const app = new OpenAPIHono<ServerEnv>({
    // A request that does not match a route's schema: 400 naming the field and what is wrong with it.
    defaultHook: (result, c) => {
      if (result.success) return undefined;
      const issue = result.error.issues[0];
      const field = issue?.path.length ? issue.path.join('.') : result.target;
      return c.json({ error: { code: 'invalid_request', message: `${field}: ${issue?.message ?? 'invalid'} (in the ${result.target})` } }, 400);
    },
  });
  app.onError((error, c) => errorResponse(c, error, deps.logger));
  // One line per request at debug (path without the query string; never a header): `logLevel: "debug"` to see them.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    deps.logger.log('debug', 'request', { method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Math.round(performance.now() - started), actor: c.get('principal')?.name });
  });
  // Pacing comes first, before any work (authentication included): see request-pacer.ts for why.
  const pace = deps.config.server.pace;
  const requests = new RequestPacer(pace.requests, 'server.requestsPerSecond');
  const probes = new RequestPacer(pace.probes, 'server.probesPerSecond');
  app.use('*', async (c, next) => {
    await (c.req.path === '/livez' || c.req.path === '/readyz' ? probes : requests).acquire();
    await next();
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}; the routes are listed at /openapi.json` } }, 404));

  app.get('/livez', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const readiness = deps.readiness();
    return readiness.ready ? c.json({ status: 'ready' }) : c.json({ status: 'not ready', reason: readiness.reason }, 503);
  });
  for (const path of ['/', '/dashboard', '/dashboard/*']) {
    app.get(path, (c) => {
      const file = dashboardFile(deps.dashboardDir, c.req.path);
      if (!file) return c.json({ error: { code: 'not_found', message: `no dashboard file ${c.req.path}` } }, 404);
      return c.body(new Uint8Array(file.body), 200, { 'Content-Type': file.type, 'Cache-Control': 'no-cache' });
    });
  }

  const ready: MiddlewareHandler<ServerEnv> = async (_c, next) => {
    const readiness = deps.readiness();
    if (!readiness.ready) throw new ApiError(503, 'not_ready', `the service is not ready yet: ${readiness.reason}`, { 'Retry-After': '1' });
    await next();
  };
  const auth = authenticate(() => deps.tokens(), failures);
  // Every audit entry a request's work writes names the token (AsyncLocalStorage, see audit-actor.ts).
  const actor: MiddlewareHandler<ServerEnv> = (c, next) => asActor(actorOf(c.get('principal')), next);
  for (const path of ['/api/*', '/metrics', '/openapi.json']) app.use(path, ready, auth, actor);

  const exposition = new SingleFlight<string>();
  app.get('/metrics', requireRole('viewer'), async (c) => {
    const monitoring = deps.dm.monitoring;
    return c.body(await exposition.run('metrics', () => monitoring.metricsText()), 200, { 'Content-Type': monitoring.metricsContentType });
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'a datakeep API token (dk_...): datakeep token create' });
  app.doc('/openapi.json', { openapi: '3.0.3', info: { title: 'datakeep service', version: DATAKEEP_VERSION, description: 'docs/service.md' } });
  // /openapi.json needs a viewer token like every data route; the middleware above enforces it.
  for (const group of GROUPS) group(app, deps);
  return app;
}
