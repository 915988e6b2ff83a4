import { z } from '@hono/zod-openapi';
import type { HealthStatus } from '../../adapters/health-status.js';
import { SingleFlight } from '../single-flight.js';
import { DatabaseQuery, route, type RouteGroup } from './route-kit.js';

const tags = ['system'];

/** Who am I, health, the databases with their metrics, validateSystem, and the slowest statements. */
export const systemRoutes: RouteGroup = (app, { dm }) => {
  // Concurrent requests share one probe of the databases (see SingleFlight).
  const probes = new SingleFlight<Map<string, HealthStatus>>();
  const health = () => probes.run('health', () => dm.getHealthStatus());
  app.openapi(route({ method: 'get', path: '/api/v1/whoami', role: 'viewer', summary: 'the token\'s name and role', tags,
    response: { status: 200, schema: z.object({ name: z.string(), role: z.enum(['viewer', 'operator', 'admin']) }).openapi('WhoAmI') } }),
  (c) => {
    const { name, role } = c.get('principal');
    return c.json({ name, role }, 200);
  });

  app.openapi(route({ method: 'get', path: '/api/v1/health', role: 'viewer', summary: 'dm.getHealthStatus(): every database probed', tags }),
    async (c) => c.json(Object.fromEntries(await health()), 200));

  app.openapi(route({ method: 'get', path: '/api/v1/databases', role: 'viewer', summary: 'each database: health, latency, pool and query metrics', tags,
    response: { status: 200, schema: z.array(z.object({
      id: z.string(), type: z.string(), healthy: z.boolean(), status: z.string(), latencyMs: z.number(), pool: z.record(z.string(), z.unknown()), metrics: z.record(z.string(), z.unknown()),
    })).openapi('Databases') } }),
  async (c) => {
    const [statuses, metrics] = await Promise.all([health(), dm.getMetrics()]);
    return c.json([...statuses.values()].map((h) => {
      const m = metrics.get(h.adapterId);
      return {
        id: h.adapterId, type: h.type, healthy: h.status !== 'unhealthy', status: h.status, latencyMs: h.latency,
        pool: { ...(m?.connections ?? {}), ...(h.pool ?? {}) },
        metrics: m ? { queries: m.queries, transactions: m.transactions, circuit: m.circuit, reasons: h.reasons } : { reasons: h.reasons },
      };
    }), 200);
  });

  app.openapi(route({ method: 'get', path: '/api/v1/validation', role: 'viewer', summary: 'dm.validateSystem(): every named check with its status', tags }),
    async (c) => c.json(await dm.validateSystem(), 200));

  app.openapi(route({ method: 'get', path: '/api/v1/statements', role: 'viewer', summary: 'the slowest statements of a database (pg_stat_statements when present)', tags,
    request: { query: DatabaseQuery.extend({ limit: z.coerce.number().int().min(1).max(500).optional() }) } }),
  async (c) => {
    const { database, limit } = c.req.valid('query');
    const id = database ?? dm.databaseIds[0]!;
    return c.json({ database: id, ...(await dm.monitoring.statements(id, limit ?? 20)) }, 200);
  });
};
