import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError } from '../../src/errors/index.js';
import { JobScheduler } from '../../src/scheduler/job-scheduler.js';
import { StateStore } from '../../src/state/state-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

const repo = new URL('../..', import.meta.url).pathname;

describe('job scheduler with a shared PostgreSQL state store', () => {
  let db: TestDatabase;
  let store: StateStore;
  before(async () => {
    db = await createTestDatabase('dk_sched');
    store = await StateStore.open({ url: db.url, dir: '' }, silentLogger);
    await store.adapter.execute('CREATE TABLE sched_effects (id serial, job text, pid int, at timestamptz DEFAULT clock_timestamp())');
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it('two processes: every tick runs exactly once', async () => {
    const runWorker = () => new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test/support/scheduler-worker.ts'), db.url, 'every-second', '6'], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c) => (err += c));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}: ${err}`))));
    });
    await Promise.all([runWorker(), runWorker()]);
    const runs = await store.adapter.query<{ scheduled_for: Date; c: number; instances: number }>(
      "SELECT scheduled_for, count(*)::int AS c, count(DISTINCT instance)::int AS instances FROM datakeep.job_runs WHERE job = 'every-second' GROUP BY scheduled_for ORDER BY 1",
    );
    assert.ok(runs.length >= 3, `ticks recorded: ${runs.length}`);
    assert.ok(runs.every((r) => r.c === 1), 'one run row per tick');
    const effects = await store.adapter.query<{ c: number }>("SELECT count(*)::int AS c FROM sched_effects WHERE job = 'every-second'");
    const succeeded = await store.adapter.query<{ c: number }>("SELECT count(*)::int AS c FROM datakeep.job_runs WHERE job = 'every-second' AND status = 'succeeded'");
    assert.equal(effects[0]!.c, succeeded[0]!.c, 'the job body ran once per succeeded run');
    const pids = await store.adapter.query<{ c: number }>("SELECT count(DISTINCT pid)::int AS c FROM sched_effects WHERE job = 'every-second'");
    console.log(`${runs.length} ticks, ${effects[0]!.c} runs, by ${pids[0]!.c} process(es)`);
  });

  it('a run that outlasts its interval makes the next tick skip, recorded as skipped', async () => {
    const scheduler = new JobScheduler(async () => store, silentLogger);
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const def = { name: 'slow-job', kind: 'test', cron: '0 0 1 1 *', config: {}, missedRunPolicy: 'skip' as const, run: async () => { await slow; return { done: true }; } };
    await scheduler.schedule(def);
    const first = scheduler.runTick(def, new Date('2030-01-01T00:00:00Z'));
    await new Promise((r) => setTimeout(r, 300));
    const second = await scheduler.runTick(def, new Date('2030-01-01T00:00:01Z'));
    assert.equal(second?.status, 'skipped');
    release();
    assert.equal((await first)?.status, 'succeeded');
    const again = await scheduler.runTick(def, new Date('2030-01-01T00:00:00Z'));
    assert.equal(again, undefined, 'a tick already claimed is not run twice');
    await scheduler.stop();
  });

  it('failures are recorded with their error; bad cron expressions are configuration errors', async () => {
    const scheduler = new JobScheduler(async () => store, silentLogger);
    const def = { name: 'failing-job', kind: 'test', cron: '0 0 1 1 *', config: {}, missedRunPolicy: 'skip' as const, run: async () => { throw new Error('disk full'); } };
    await scheduler.schedule(def);
    const run = await scheduler.runTick(def, new Date('2031-01-01T00:00:00Z'));
    assert.equal(run?.status, 'failed');
    assert.equal(run?.error, 'disk full');
    await assert.rejects(scheduler.schedule({ ...def, name: 'bad', cron: 'every day' }), ConfigurationError);
    await scheduler.stop();
  });

  it('run-once catches up the latest missed tick at start', async () => {
    const scheduler = new JobScheduler(async () => store, silentLogger);
    let runs = 0;
    const def = { name: 'catch-up', kind: 'test', cron: '0 3 * * *', config: {}, run: async () => { runs += 1; return {}; } };
    // A run recorded long ago: the ticks since then were missed.
    await store.adapter.execute("INSERT INTO datakeep.job_runs (job, kind, scheduled_for, status, finished_at) VALUES ('catch-up', 'test', '2020-01-01T03:00:00Z', 'succeeded', '2020-01-01T03:01:00Z')");
    await scheduler.schedule(def);
    for (let i = 0; i < 50 && runs === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(runs, 1);
    const history = await scheduler.history('catch-up');
    assert.equal(history.length, 2);
    assert.ok(history[0]!.scheduledFor!.getTime() > Date.now() - 86_400_000 - 60_000, 'the latest missed tick, not 2020-01-02');
    await scheduler.stop();
  });
});
