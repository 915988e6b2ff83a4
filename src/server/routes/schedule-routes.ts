import { z } from '@hono/zod-openapi';
import { notFound } from '../api-error.js';
import { route, type RouteGroup } from './route-kit.js';

const tags = ['schedules'];

/** The cron schedules this service runs (backups, drills, lifecycle policies) and their recorded runs. */
export const scheduleRoutes: RouteGroup = (app, { dm }) => {
  app.openapi(route({ method: 'get', path: '/api/v1/schedules', role: 'viewer', summary: 'schedules with their next run and last run', tags,
    response: { status: 200, schema: z.array(z.object({
      name: z.string(), kind: z.string(), cron: z.string(), timeZone: z.string(), nextRun: z.string().nullable(), running: z.boolean(),
      lastRun: z.object({ at: z.string(), outcome: z.string(), error: z.string().nullable() }).nullable(),
    })).openapi('Schedules') } }),
  async (c) => {
    const scheduler = dm.scheduler();
    const out = await Promise.all(scheduler.list().map(async (s) => {
      const last = (await scheduler.history(s.name, 1))[0];
      return {
        name: s.name, kind: s.kind, cron: s.cron, timeZone: s.timeZone, nextRun: s.nextRun?.toISOString() ?? null, running: s.running,
        lastRun: last ? { at: new Date(last.finishedAt ?? last.startedAt).toISOString(), outcome: last.status, error: last.error } : null,
      };
    }));
    return c.json(out, 200);
  });

  app.openapi(route({ method: 'get', path: '/api/v1/schedules/{name}/runs', role: 'viewer', summary: 'recorded runs of a schedule, newest first', tags,
    request: { params: z.object({ name: z.string().min(1) }), query: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }) } }),
  async (c) => {
    const { name } = c.req.valid('param');
    const scheduler = dm.scheduler();
    const runs = await scheduler.history(name, c.req.valid('query').limit ?? 50);
    if (runs.length === 0 && !scheduler.list().some((s) => s.name === name)) throw notFound(`schedule "${name}"`);
    return c.json(runs, 200);
  });
};
