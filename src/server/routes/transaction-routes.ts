import { z } from '@hono/zod-openapi';
import { actorOf } from '../server-env.js';
import { body, route, type RouteGroup } from './route-kit.js';

const tags = ['transactions'];

/** Distributed transactions: the in-doubt list, and resolving one by hand (audited). */
export const transactionRoutes: RouteGroup = (app, { dm }) => {
  app.openapi(route({ method: 'get', path: '/api/v1/transactions', role: 'viewer', summary: 'unfinished distributed transactions and prepared branches', tags }),
    async (c) => c.json(await dm.transactions.list(), 200));

  app.openapi(route({ method: 'post', path: '/api/v1/transactions/{id}/resolve', role: 'admin', summary: 'commit or roll back an in-doubt transaction', tags,
    request: { params: z.object({ id: z.string().min(1) }), ...body(z.object({ action: z.enum(['commit', 'rollback']) })) } }),
  async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await dm.transactions.resolve(id, c.req.valid('json').action, { actor: actorOf(c.get('principal')) }), 200);
  });
};
