import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';

interface SseEvent { event: string; data: Record<string, unknown> }

/** Reads a job's event stream until `stop` says so (or the stream ends); the events read. */
async function readEvents(serve: ServeProcess, jobId: string, token: string, stop: (e: SseEvent) => boolean = () => false): Promise<SseEvent[]> {
  const res = await serve.request(`/api/v1/jobs/${jobId}/events`, { token });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const events: SseEvent[] = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return events;
    buffer += Buffer.from(value).toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || data === undefined) continue;
      events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
      if (stop(events.at(-1)!)) {
        await reader.cancel();
        return events;
      }
    }
  }
}

describe('datakeep serve: backups through the API, and SIGTERM during a backup', () => {
  let cluster: ThrowawayPostgres;
  let work: string;
  let configFile: string;
  let serve: ServeProcess;
  let admin: string;
  let operator: string;
  let firstBackup: string;

  before(async () => {
    let destination: string;
    let passphraseFile: string;
    ({ cluster, work, destination, passphraseFile } = await startBackupCluster('serve-backup', 'app'));
    // Enough data that a backup is still copying when the service is told to stop.
    await cluster.query("CREATE TABLE big AS SELECT g, md5(g::text) || md5((g * 7)::text) AS t FROM generate_series(1, 300000) g");
    configFile = join(work, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({
      databases: [{ ...cluster.config, id: 'app' }], state: { url: cluster.url }, logLevel: 'warn',
      backups: { destination, passphraseFile, schedule: '0 3 * * *' }, server: { shutdownTimeout: 0 },
    }));
    serve = await startServe(configFile, { cwd: work });
    await serve.waitReady();
    admin = serve.adminToken!;
    const created = await serve.request('/api/v1/tokens', { token: admin, body: { name: 'operator1', role: 'operator' } });
    assert.equal(created.status, 200);
    operator = ((await created.json()) as { token: string }).token;
  });
  after(async () => {
    await serve?.stop('SIGKILL').catch(() => undefined);
    await cluster?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('takes a backup as a job: 202, progress events, then done; the list and the window show it', async () => {
    const res = await serve.request('/api/v1/backups', { token: operator, body: { type: 'full' } });
    assert.equal(res.status, 202);
    const { jobId } = (await res.json()) as { jobId: string };
    const events = await readEvents(serve, jobId, operator);
    assert.ok(events.some((e) => e.event === 'progress' && e.data.phase === 'copying'), JSON.stringify(events.slice(0, 3)));
    const last = events.at(-1)!;
    assert.equal(last.event, 'done', JSON.stringify(last));
    firstBackup = (last.data.result as { backupId: string }).backupId;
    const list = (await (await serve.request('/api/v1/backups?database=app', { token: operator })).json()) as { backupId: string }[];
    assert.deepEqual(list.map((b) => b.backupId), [firstBackup]);
    const [window] = (await (await serve.request('/api/v1/backups/window', { token: operator })).json()) as { database: string; from: { backupId: string } }[];
    assert.equal(window?.database, 'app');
    assert.equal(window?.from.backupId, firstBackup);
  });

  it('runs the configured backup schedule: listed with its next run, its runs readable by name', async () => {
    const schedules = (await (await serve.request('/api/v1/schedules', { token: operator })).json()) as { name: string; kind: string; cron: string; nextRun: string; lastRun: unknown }[];
    assert.equal(schedules.length, 1, JSON.stringify(schedules));
    const [schedule] = schedules;
    assert.deepEqual([schedule!.kind, schedule!.cron, schedule!.lastRun], ['backup', '0 3 * * *', null]);
    assert.equal(new Date(schedule!.nextRun).getUTCHours(), 3);
    const runs = await serve.request(`/api/v1/schedules/${encodeURIComponent(schedule!.name)}/runs`, { token: operator });
    assert.equal(runs.status, 200);
    assert.deepEqual(await runs.json(), []);
    assert.equal((await serve.request('/api/v1/schedules/nope/runs', { token: operator })).status, 404);
  });

  it('verifies (operator) and restores into a new directory (admin), both audited with their token', async () => {
    const verify = await serve.request(`/api/v1/backups/${firstBackup}/verify`, { token: operator, method: 'POST' });
    assert.equal(verify.status, 202);
    const verified = (await readEvents(serve, ((await verify.json()) as { jobId: string }).jobId, operator)).at(-1)!;
    assert.equal(verified.event, 'done');
    assert.equal((verified.data.result as { ok: boolean }).ok, true);

    const to = join(work, 'restored');
    assert.equal((await serve.request(`/api/v1/backups/${firstBackup}/restore`, { token: operator, body: { to } })).status, 403);
    const restore = await serve.request(`/api/v1/backups/${firstBackup}/restore`, { token: admin, body: { to } });
    assert.equal(restore.status, 202);
    const restored = (await readEvents(serve, ((await restore.json()) as { jobId: string }).jobId, admin)).at(-1)!;
    assert.equal(restored.event, 'done', JSON.stringify(restored.data));
    assert.ok(existsSync(join(to, 'PG_VERSION')), 'the restored data directory is there');
    const notEmpty = await serve.request(`/api/v1/backups/${firstBackup}/restore`, { token: admin, body: { to } });
    assert.equal(notEmpty.status, 400, 'a second restore into the same directory is refused');

    const audit = (await (await serve.request('/api/v1/audit?action=backup.', { token: operator })).json()) as { action: string; actor: string; outcome: string }[];
    const seen = new Set(audit.map((e) => `${e.action} ${e.actor} ${e.outcome}`));
    for (const expected of ['backup.create token:operator1 succeeded', 'backup.verify token:operator1 succeeded', 'backup.restore token:admin succeeded']) {
      assert.ok(seen.has(expected), `${expected} in ${[...seen].join(', ')}`);
    }
  });

  it('SIGTERM while a backup copies: exit 0, the job is recorded as interrupted, no partial backup is visible', async () => {
    const res = await serve.request('/api/v1/backups', { token: operator, body: {} });
    const { jobId } = (await res.json()) as { jobId: string };
    const seen = await readEvents(serve, jobId, operator, (e) => e.event !== 'progress' || e.data.phase === 'copying');
    assert.equal(seen.at(-1)?.event, 'progress', `the backup was still running when the service was stopped: ${JSON.stringify(seen.at(-1))}`);
    assert.equal(await serve.stop('SIGTERM'), 0);
    // What a crashed process on this host leaves: a job and a scheduled run still marked running (no such pid).
    const gone = `${hostname()}:4194305`;
    await cluster.query(`INSERT INTO datakeep.service_jobs (id, kind, actor, instance, status) VALUES ('job_crashed', 'backup.create', 'token:x', '${gone}', 'running')`);
    await cluster.query(`INSERT INTO datakeep.job_runs (job, kind, status, instance) VALUES ('backup:crashed', 'backup', 'running', '${gone}:abc')`);

    serve = await startServe(configFile, { cwd: work });
    await serve.waitReady();
    assert.equal(serve.adminToken, undefined, 'no new admin token once one exists');
    const job = (await (await serve.request(`/api/v1/jobs/${jobId}`, { token: operator })).json()) as { status: string; error: string };
    assert.equal(job.status, 'interrupted');
    const list = (await (await serve.request('/api/v1/backups', { token: operator })).json()) as { backupId: string }[];
    assert.deepEqual(list.map((b) => b.backupId), [firstBackup], 'only the complete backup is listed');
    const crashed = (await (await serve.request('/api/v1/jobs/job_crashed', { token: operator })).json()) as { status: string };
    assert.equal(crashed.status, 'interrupted');
    const [run] = (await (await serve.request('/api/v1/schedules/backup%3Acrashed/runs', { token: operator })).json()) as { status: string; error: string }[];
    assert.deepEqual([run?.status, /^interrupted/.test(run?.error ?? '')], ['failed', true]);
    const verify = await serve.request(`/api/v1/backups/${firstBackup}/verify`, { token: operator, method: 'POST' });
    const verified = (await readEvents(serve, ((await verify.json()) as { jobId: string }).jobId, operator)).at(-1)!;
    assert.equal((verified.data.result as { ok: boolean }).ok, true, 'the repository still verifies');
    assert.equal(await serve.stop('SIGTERM'), 0);
  });
});
