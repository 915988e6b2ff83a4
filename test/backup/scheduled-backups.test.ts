import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';

const repo = new URL('../..', import.meta.url).pathname;

describe('scheduled backups with two datakeep processes sharing a PostgreSQL state store', () => {
  let cluster: ThrowawayPostgres;
  let work: string;
  let destination: string;
  let passphraseFile: string;
  before(async () => {
    ({ cluster, work, destination, passphraseFile } = await startBackupCluster('sched-backup', 'app'));
    await cluster.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g');
  });
  after(async () => {
    await cluster?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('each tick runs once: one job row per tick, one backup per successful run', async () => {
    const run = () => new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test/support/scheduled-backup-worker.ts'), JSON.stringify(cluster.config), cluster.url, destination, '9'], {
        cwd: repo, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DATAKEEP_REPO_PASSPHRASE_FILE: passphraseFile },
      });
      let err = '';
      child.stderr.on('data', (c) => (err += c));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}: ${err}`))));
    });
    await Promise.all([run(), run()]);
    const dm = new DataManager({ config: { databases: [{ ...cluster.config, id: 'app' }], state: { url: cluster.url }, logLevel: 'error' } });
    await dm.initialize();
    try {
      const state = await dm.state();
      const ticks = await state.adapter.query<{ scheduled_for: Date; c: number }>("SELECT scheduled_for, count(*)::int AS c FROM datakeep.job_runs WHERE kind = 'backup' GROUP BY scheduled_for");
      assert.ok(ticks.length >= 2, `ticks: ${ticks.length}`);
      assert.ok(ticks.every((t) => t.c === 1), 'one run per tick across both processes');
      const runs = await state.adapter.query<{ status: string; instance: string }>("SELECT status, instance FROM datakeep.job_runs WHERE kind = 'backup'");
      const succeeded = runs.filter((r) => r.status === 'succeeded').length;
      const errors = await state.adapter.query<{ error: string }>("SELECT error FROM datakeep.job_runs WHERE kind = 'backup' AND status = 'failed'");
      assert.deepEqual(errors, [], 'no run failed');
      assert.ok(succeeded >= 1, JSON.stringify(runs));
      process.env.DATAKEEP_REPO_PASSPHRASE_FILE = passphraseFile;
      const backups = await dm.backups.listBackups({ destination });
      assert.equal(backups.length, succeeded, 'every successful run left exactly one backup, and no run two');
      console.log(`${ticks.length} ticks: ${succeeded} backups, ${runs.filter((r) => r.status === 'skipped').length} skipped (previous run still going), by ${new Set(runs.map((r) => r.instance)).size} process(es)`);
    } finally {
      delete process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
      await dm.close();
    }
  });
});
