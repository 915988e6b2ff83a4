import { z } from '@hono/zod-openapi';
import { actorOf } from '../server-env.js';
import { resolveLifecycleConfig } from '../../config/lifecycle-config.js';
import { notFound } from '../api-error.js';
import { JobAccepted, route, type RouteGroup } from './route-kit.js';

const tags = ['lifecycle'];

/** Lifecycle policies with their last runs, and running one now (a job). */
export const lifecycleRoutes: RouteGroup = (app, deps) => {
  const { dm } = deps;
  const policies = () => (deps.config.lifecycle === undefined ? [] : resolveLifecycleConfig(deps.config.lifecycle).policies);

  app.openapi(route({ method: 'get', path: '/api/v1/lifecycle', role: 'viewer', summary: 'policies and their last runs', tags }),
    async (c) => {
      if (deps.config.lifecycle === undefined) return c.json({ configured: false, policies: [] }, 200);
      const runs = await dm.lifecycle.history({ limit: 200 });
      return c.json({
        configured: true,
        policies: policies().map((p) => {
          const last = runs.find((r) => r.job === `lifecycle:${p.name}`);
          return {
            name: p.name, database: p.database, action: p.action, schedule: p.schedule, timeZone: p.timeZone, target: p.table ?? p.collection ?? p.keyPattern ?? null,
            lastRun: last ? { at: new Date(last.finishedAt ?? last.startedAt).toISOString(), outcome: last.status, details: last.details, error: last.error } : null,
          };
        }),
      }, 200);
    });

  app.openapi(route({ method: 'post', path: '/api/v1/lifecycle/{policy}/run', role: 'operator', summary: 'run a policy now (a job)', tags,
    request: { params: z.object({ policy: z.string().min(1) }) }, response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    const { policy } = c.req.valid('param');
    if (!policies().some((p) => p.name === policy)) throw notFound(`lifecycle policy "${policy}"`);
    const jobId = await deps.jobs().start('lifecycle.run', policy, actorOf(c.get('principal')), async (progress, signal) => {
      const [result] = await dm.lifecycle.run({ policy, signal, onProgress: (p) => progress({ ...p }) });
      if (result?.outcome === 'failed') throw new Error(result.error ?? `policy ${policy} failed`);
      return { ...result };
    });
    return c.json({ jobId }, 202);
  });
};
