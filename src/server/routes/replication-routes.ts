import { z } from '@hono/zod-openapi';
import { actorOf } from '../server-env.js';
import { ApiError } from '../api-error.js';
import { body, JobAccepted, route, type RouteGroup } from './route-kit.js';

const tags = ['replication'];

/** Replication status, switchover and failover (jobs). */
export const replicationRoutes: RouteGroup = (app, deps) => {
  const { dm } = deps;
  const configured = () => deps.config.replication !== undefined;
  const refuse = () => new ApiError(409, 'not_configured', 'replication is not configured: add a "replication" section to the configuration file');

  app.openapi(route({ method: 'get', path: '/api/v1/replication', role: 'viewer', summary: 'members, roles and lag ({configured: false} without replication)', tags }),
    async (c) => c.json(configured() ? { configured: true, ...(await dm.replication.status()) } : { configured: false }, 200));

  app.openapi(route({ method: 'post', path: '/api/v1/replication/switchover', role: 'admin', summary: 'hand the primary role to a replica, the primary being up (a job)', tags,
    request: body(z.object({ to: z.string().min(1).optional() })), response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    if (!configured()) throw refuse();
    const { to } = c.req.valid('json');
    const jobId = await deps.jobs().start('replication.switchover', to ?? null, actorOf(c.get('principal')), async () => ({ ...(await dm.replication.switchover({ target: to })) }));
    return c.json({ jobId }, 202);
  });

  app.openapi(route({ method: 'post', path: '/api/v1/replication/failover', role: 'admin', summary: 'promote a replica (a job)', tags,
    request: body(z.object({ target: z.string().min(1).optional() })), response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    if (!configured()) throw refuse();
    const { target } = c.req.valid('json');
    const jobId = await deps.jobs().start('replication.failover', target ?? null, actorOf(c.get('principal')), async () => ({ ...(await dm.failover(target)) }));
    return c.json({ jobId }, 202);
  });
};
