import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from '@hono/zod-openapi';
import { actorOf } from '../server-env.js';
import type { BackupConfig } from '../../backup/backup-config.js';
import { ApiError, notFound } from '../api-error.js';
import type { ServiceDeps } from '../service-deps.js';
import { body, DatabaseQuery, JobAccepted, route, type RouteGroup } from './route-kit.js';

const tags = ['backups'];
const BackupId = z.object({ id: z.string().min(1).openapi({ description: 'a backup id (GET /api/v1/backups)' }) });

/** Backups: list, recoverability windows, create, verify, restore into a new directory. Long ones are jobs. */
export const backupRoutes: RouteGroup = (app, deps) => {
  const { dm } = deps;
  const configured = () => deps.config.backups?.destination !== undefined;
  // A configured destination that no backup has created yet holds no backups: an empty list, not the library's
  // "does not exist" (which protects a CLI user from a mistyped --dest).
  const written = () => configured() && existsSync(deps.config.backups!.destination!);

  app.openapi(route({ method: 'get', path: '/api/v1/backups', role: 'viewer', summary: 'completed backups, oldest first ([] when no destination is configured)', tags, request: { query: DatabaseQuery } }),
    async (c) => {
      if (!written()) return c.json([], 200);
      const { database } = c.req.valid('query');
      const all = await dm.backups.listBackups();
      return c.json(all.filter((b) => database === undefined || b.database === database), 200);
    });

  app.openapi(route({ method: 'get', path: '/api/v1/backups/window', role: 'viewer', summary: 'the recoverability window of each database', tags, request: { query: DatabaseQuery } }),
    async (c) => (written() ? c.json(await dm.backups.window(c.req.valid('query').database), 200) : c.json([], 200)));

  app.openapi(route({ method: 'get', path: '/api/v1/backups/captures', role: 'viewer', summary: 'the continuous log captures this service runs: status, position, covered-until time, lag, restarts, last error', tags }),
    async (c) => c.json(dm.backups.captures.list(), 200));

  app.openapi(route({ method: 'post', path: '/api/v1/backups', role: 'operator', summary: 'take a backup (a job)', tags,
    request: body(z.object({ database: z.string().min(1).optional(), type: z.enum(['full', 'incremental', 'differential']).optional() })),
    response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    const { database, type } = c.req.valid('json');
    const config = backupConfig(deps, { ...(type ? { type } : {}), ...(database ? { databases: [database] } : {}) });
    if (database !== undefined && !dm.databaseIds.includes(database)) throw notFound(`database "${database}"`);
    const jobId = await deps.jobs().start('backup.create', database ?? null, actorOf(c.get('principal')), async (progress, signal) => {
      const result = await dm.backups.createBackup(config, { signal, onProgress: (db, p) => progress({ database: db, ...p }) });
      return { backupId: result.backupId, type: result.type, sizeBytes: result.sizeBytes, storedBytes: result.storedBytes, databases: result.databases.map((d) => ({ database: d.database, backupId: d.backupId })), skipped: result.skipped };
    });
    return c.json({ jobId }, 202);
  });

  app.openapi(route({ method: 'post', path: '/api/v1/backups/{id}/verify', role: 'operator', summary: 're-read and authenticate a backup and the WAL after it (a job)', tags,
    request: { params: BackupId }, response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    const { id } = c.req.valid('param');
    await existing(deps, id);
    const jobId = await deps.jobs().start('backup.verify', id, actorOf(c.get('principal')), async () => {
      const report = await dm.backups.verifyBackup(id);
      return { ok: report.ok, problems: report.problems, walSegmentsAfter: report.walSegmentsAfter, walEndsAt: report.walEndsAt ?? null };
    });
    return c.json({ jobId }, 202);
  });

  app.openapi(route({ method: 'post', path: '/api/v1/backups/{id}/restore', role: 'admin', summary: 'restore a backup into a new directory (a job); never over a running cluster', tags,
    request: { params: BackupId, ...body(z.object({
      to: z.string().min(1).openapi({ description: 'a new (or empty) absolute directory on the service\'s host' }),
      targetTime: z.iso.datetime({ offset: true }).optional().openapi({ description: 'point-in-time target, ISO 8601 with a zone' }),
      database: z.string().min(1).optional(),
    })) }, response: { status: 202, schema: JobAccepted } }),
  async (c) => {
    const { id } = c.req.valid('param');
    const { to, targetTime, database } = c.req.valid('json');
    if (!isAbsolute(to)) throw new ApiError(400, 'invalid_request', 'to: give an absolute path (the service\'s working directory is not the caller\'s)');
    if (existsSync(to) && readdirSync(to).length > 0) throw new ApiError(400, 'invalid_request', `to: "${to}" is not empty; restore into a new or empty directory`);
    await existing(deps, id);
    const jobId = await deps.jobs().start('backup.restore', id, actorOf(c.get('principal')), async (progress, signal) => {
      const result = await dm.backups.restoreBackup(id, { to, signal, ...(targetTime ? { targetTime } : {}), ...(database ? { database } : {}), onProgress: (p) => progress({ ...p }) });
      return { backupId: result.backupId, database: result.database, to: result.to, target: result.target ?? null, startCommand: result.startCommand };
    });
    return c.json({ jobId }, 202);
  });
};

/** The configured backup settings with the request's choices; 409 when no destination is configured. */
function backupConfig(deps: ServiceDeps, overrides: Partial<BackupConfig>): BackupConfig {
  const section = deps.config.backups;
  if (section?.destination === undefined) throw new ApiError(409, 'not_configured', 'no backup destination: set "backups": {"destination": ...} in the configuration file');
  return { ...section, ...overrides } as BackupConfig;
}

async function existing(deps: ServiceDeps, id: string): Promise<void> {
  if (deps.config.backups?.destination === undefined) throw notFound(`backup "${id}" (no backup destination is configured)`);
  if (!(await deps.dm.backups.listBackups()).some((b) => b.backupId === id)) throw notFound(`backup "${id}"`);
}
