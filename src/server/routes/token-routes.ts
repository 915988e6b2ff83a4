import { z } from '@hono/zod-openapi';
import { body, route, type RouteGroup } from './route-kit.js';

const tags = ['tokens'];

/**
 * Tokens through the API (admin), for a service whose embedded state store belongs to its process (the CLI's
 * `datakeep token` cannot open it while the service runs). The token itself is in the creation's answer only.
 */
export const tokenRoutes: RouteGroup = (app, deps) => {
  app.openapi(route({ method: 'get', path: '/api/v1/tokens', role: 'admin', summary: 'every token: id, name, role, dates (never the token)', tags }),
    async (c) => c.json(await deps.tokens().list(), 200));

  app.openapi(route({ method: 'post', path: '/api/v1/tokens', role: 'admin', summary: 'create a token; the answer is the only time it is shown', tags,
    request: body(z.object({ name: z.string().min(1), role: z.enum(['viewer', 'operator', 'admin']) })) }),
  async (c) => {
    const { name, role } = c.req.valid('json');
    const { token, info } = await deps.tokens().create(name, role);
    return c.json({ ...info, token }, 200);
  });

  app.openapi(route({ method: 'post', path: '/api/v1/tokens/{id}/revoke', role: 'admin', summary: 'revoke a token by id or name; it is refused from its next request on', tags,
    request: { params: z.object({ id: z.string().min(1) }) } }),
  async (c) => c.json(await deps.tokens().revoke(c.req.valid('param').id), 200));
};
