import { z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { notFound } from '../api-error.js';
import { TERMINAL, type JobEvent } from '../jobs/job-types.js';
import { route, type RouteGroup } from './route-kit.js';

const tags = ['jobs'];
const JobId = z.object({ id: z.string().min(1) });
/** A quiet stream sends a comment this often, so proxies and browsers keep it open. */
const KEEPALIVE_MS = 15_000;

/** Jobs (long operations started through the API): list, one, and its events as Server-Sent Events. */
export const jobRoutes: RouteGroup = (app, deps) => {
  app.openapi(route({ method: 'get', path: '/api/v1/jobs', role: 'viewer', summary: 'jobs, newest first', tags,
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }) } }),
  async (c) => c.json(await deps.jobs().list(c.req.valid('query').limit ?? 50), 200));

  app.openapi(route({ method: 'get', path: '/api/v1/jobs/{id}', role: 'viewer', summary: 'one job: status, progress, result or error', tags, request: { params: JobId } }),
    async (c) => {
      const { id } = c.req.valid('param');
      const job = await deps.jobs().get(id);
      if (!job) throw notFound(`job "${id}"`);
      return c.json(job, 200);
    });

  app.openapi(route({ method: 'get', path: '/api/v1/jobs/{id}/events', role: 'viewer', tags, request: { params: JobId },
    summary: 'the job\'s events as text/event-stream: `progress` (each report), then `done` or `failed` (the job), and the stream ends' }),
  async (c) => {
    const { id } = c.req.valid('param');
    const jobs = deps.jobs();
    const job = await jobs.get(id);
    if (!job) throw notFound(`job "${id}"`);
    return streamSSE(c, async (stream) => {
      const queue: JobEvent[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = jobs.subscribe(id, (event) => {
        queue.push(event);
        wake?.();
      });
      // Subscribed first, then read again: a job that ended in between is seen either way.
      const now = unsubscribe ? undefined : await jobs.get(id);
      if (now && TERMINAL.includes(now.status)) queue.push({ type: now.status === 'succeeded' ? 'done' : 'failed', data: now });
      else if (!unsubscribe) queue.push({ type: 'failed', data: { ...job, status: 'interrupted', error: 'the job is not running in this service instance and has not finished' } });
      else if (job.progress) queue.push({ type: 'progress', data: job.progress });
      stream.onAbort(() => {
        unsubscribe?.();
        wake?.();
      });
      try {
        while (!stream.aborted) {
          const event = queue.shift();
          if (!event) {
            let timer: NodeJS.Timeout | undefined;
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, KEEPALIVE_MS);
            });
            clearTimeout(timer);
            wake = undefined;
            if (queue.length === 0 && !stream.aborted) await stream.write(': keepalive\n\n');
            continue;
          }
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event.data) });
          if (event.type !== 'progress') break;
        }
      } finally {
        unsubscribe?.();
      }
    }) as never;
  });
};
