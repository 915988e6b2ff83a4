import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { LogCaptureState } from '../../src/backup/log-captures.js';
import type { JobView } from '../../src/server/jobs/job-types.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import { ThrowawayRedis, waitFor } from '../support/throwaway-redis.js';

const PASSWORD = 'capture-secret-9f2c';

/**
 * `datakeep serve` with a backup destination captures the log of a Redis database on its own (backups.logCapture's
 * default), as a job listed with the others; the Redis server killed by PID and restarted is followed by the same
 * job (restarted inside it with backoff); the state is in the API and the metrics, and no line the service wrote
 * holds the database's password.
 */
describe('datakeep serve: the continuous log capture job', () => {
  let redis: ThrowawayRedis;
  let stateDb: TestDatabase;
  let work: string;
  let serve: ServeProcess;
  let token: string;
  const configFile = () => join(work, 'datakeep.config.json');

  before(async () => {
    [redis, stateDb] = await Promise.all([ThrowawayRedis.start({ name: 'serve-logcap', config: [`requirepass ${PASSWORD}`, 'repl-diskless-sync-delay 0'] }), createTestDatabase('dk_serve_logcap')]);
    work = mkdtempSync(join(tmpdir(), 'dk-serve-logcap-'));
    const passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, `serve log capture ${process.pid}\n`, { mode: 0o600 });
    writeFileSync(configFile(), JSON.stringify({
      databases: [{ ...redis.config, password: PASSWORD, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'info',
      backups: { destination: join(work, 'backups'), passphraseFile, logCapture: { intervalSeconds: 1 } }, server: { shutdownTimeout: 0 },
    }));
    serve = await startServe(configFile(), { cwd: work });
    await serve.waitReady();
    token = serve.adminToken!;
  });
  after(async () => {
    await serve?.stop('SIGKILL').catch(() => undefined);
    await redis?.stop();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const captures = async () => (await (await serve.request('/api/v1/backups/captures', { token })).json()) as LogCaptureState[];
  const captureJobs = async () => ((await (await serve.request('/api/v1/jobs', { token })).json()) as JobView[]).filter((j) => j.kind === 'backup.capture');
  /** Waits until the capture has stored a write made now. */
  async function captured(what: string): Promise<LogCaptureState> {
    const client = new Redis({ host: redis.host, port: redis.port, password: PASSWORD });
    try {
      const now = Date.now();
      let state: LogCaptureState | undefined;
      await waitFor(async () => {
        await client.set(`mark-${Date.now()}`, what);
        [state] = await captures();
        return state?.status === 'running' && state.coveredUntil !== undefined && Date.parse(state.coveredUntil) > now;
      }, 40_000, `the capture storing ${what} (last state: ${JSON.stringify(state)})`);
      return state!;
    } finally {
      client.disconnect();
    }
  }

  it('is listed as a running job, follows a Redis server killed and restarted, and shows in the metrics', async () => {
    const [job] = await captureJobs();
    assert.equal(job?.status, 'running', JSON.stringify(job));
    assert.equal(job.target, 'cache');
    const first = await captured('a write before the kill');
    assert.equal(first.restarts, 0);

    await redis.kill('SIGKILL');
    let failed: LogCaptureState | undefined;
    await waitFor(async () => ([failed] = await captures()) && failed?.status === 'retrying', 30_000, 'the capture reporting the lost server');
    assert.ok(failed!.lastError?.message, JSON.stringify(failed));
    await redis.restart();
    const resumed = await captured('a write after the restart');
    assert.ok(resumed.restarts >= 1, JSON.stringify(resumed));

    const [same] = await captureJobs();
    assert.equal(same?.id, job.id, 'the same job runs on');
    assert.equal(same.status, 'running');
    const metrics = await (await serve.request('/metrics', { token })).text();
    assert.match(metrics, /datakeep_backup_log_capture_up\{database_id="cache",engine="redis"\} 1/);
    assert.match(metrics, /datakeep_backup_log_capture_restarts_total\{database_id="cache",engine="redis"\} [1-9]/);
    assert.match(metrics, /datakeep_backup_log_capture_lag_seconds\{database_id="cache",engine="redis"\} \d/);

    assert.equal(await serve.stop('SIGTERM'), 0);
    const lines = [...serve.stdout, ...serve.stderr].join('\n');
    assert.ok(lines.includes('log capture of cache failed'), 'the failure was logged');
    assert.ok(!lines.includes(PASSWORD), 'no line holds the password');

    // The service started again: a new capture job continues the stream where the repository ends (PSYNC), no new snapshot.
    serve = await startServe(configFile(), { cwd: work });
    await serve.waitReady();
    const jobs = await captureJobs();
    assert.equal(jobs.find((j) => j.id === job.id)?.status, 'succeeded', 'the first job ended with the service that ran it');
    assert.equal(jobs.find((j) => j.id !== job.id)?.status, 'running');
    const continued = await captured('a write after the service restart');
    assert.equal(continued.note, undefined, `the stream continued without a new snapshot: ${JSON.stringify(continued)}`);
  });
});
