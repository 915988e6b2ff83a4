import { z } from '@hono/zod-openapi';
import { route, type RouteGroup } from './route-kit.js';

/** The audit log, newest first. There is no route that changes or deletes an entry. */
export const auditRoutes: RouteGroup = (app, { dm }) => {
  app.openapi(route({ method: 'get', path: '/api/v1/audit', role: 'viewer', summary: 'audit entries, newest first', tags: ['audit'],
    request: { query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).optional(),
      action: z.string().min(1).optional().openapi({ description: 'one action ("backup.create") or a prefix ending in "." ("backup.")' }),
    }) } }),
  async (c) => {
    const { limit, action } = c.req.valid('query');
    return c.json(await (await dm.state()).auditLog(limit ?? 100, { action }), 200);
  });
};
