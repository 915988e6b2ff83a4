import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataManager } from '../../src/index.js';
import type { LifecycleRunResult } from '../../src/lifecycle/lifecycle-types.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = join(repo, 'test', 'support', 'lifecycle-worker.ts');

export interface CrashScenario {
  /** A DatakeepConfig whose state store is on PostgreSQL (`state.url`) and whose lifecycle archives. */
  readonly config: Record<string, unknown>;
  readonly stateUrl: string;
  readonly passphrase: string;
  /** The ids of every expired row (key) when the test starts. */
  readonly expired: ReadonlySet<string>;
  /** Which of the expired rows are in the table (key space) now. */
  present(): Promise<Set<string>>;
  /** The id of an archived record. */
  idOf(record: string): string;
}

/**
 * Runs the worker on the scenario's config `kills` times and kills it with SIGKILL at a random moment after it has
 * written at least two archives (inside an archive write, between an archive and its delete, inside a delete), each
 * time checking that every expired row is still in the table or in a completed archive.
 */
export async function killMidRun(s: CrashScenario, kills = 3): Promise<void> {
  const state = new pg.Client({ connectionString: s.stateUrl });
  await state.connect();
  const env = { ...process.env, DATAKEEP_REPO_PASSPHRASE: s.passphrase };
  try {
    const archivedSoFar = async () => Number((await state.query<{ n: string }>('SELECT count(*) AS n FROM datakeep.lifecycle_archives').catch(() => ({ rows: [{ n: '0' }] }))).rows[0]!.n);
    for (let kill = 1; kill <= kills; kill += 1) {
      await leaseFree(state);
      const before = await archivedSoFar();
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(s.config)], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 120_000;
      while ((await archivedSoFar()) < before + 2 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 120)));
      child.kill('SIGKILL');
      await exited;
      assert.ok((await archivedSoFar()) >= before + 2, `kill ${kill}: the worker wrote archives before it was killed`);
      const present = await s.present();
      const archived = await archivedRecords(s);
      for (const id of s.expired) assert.ok(present.has(id) || archived.has(id), `kill ${kill}: row ${id} is in neither the table nor an archive`);
    }
    await leaseFree(state);
  } finally {
    await state.end();
  }
}

/** The final run after the kills, which must finish what they left. */
export async function rerun(s: CrashScenario): Promise<LifecycleRunResult> {
  process.env.DATAKEEP_REPO_PASSPHRASE = s.passphrase;
  const dm = new DataManager({ config: s.config as never });
  await dm.initialize();
  try {
    const [result] = await dm.lifecycle.run();
    const state = new pg.Client({ connectionString: s.stateUrl });
    await state.connect();
    try {
      const open = await state.query<{ n: string }>('SELECT count(*) AS n FROM datakeep.lifecycle_archives WHERE removed_at IS NULL');
      assert.equal(open.rows[0]!.n, '0', 'the rerun left ledger entries open');
    } finally {
      await state.end();
    }
    return result!;
  } finally {
    await dm.close();
  }
}

/** Every record in every completed archive by id; a row in two archives fails the test. */
export async function archivedRecords(s: Pick<CrashScenario, 'config' | 'passphrase' | 'idOf'>): Promise<Map<string, string>> {
  process.env.DATAKEEP_REPO_PASSPHRASE = s.passphrase;
  const dm = new DataManager({ config: { ...s.config, logLevel: 'error' } as never });
  await dm.initialize();
  try {
    const seen = new Map<string, string>();
    for (const archive of await dm.lifecycle.archives.list()) {
      const shown = await dm.lifecycle.archives.show(archive.archiveId, { limit: 1_000_000 });
      for (const record of shown.sample) {
        const id = s.idOf(record);
        assert.ok(!seen.has(id), `row ${id} is in two archives`);
        seen.set(id, record);
      }
    }
    return seen;
  } finally {
    await dm.close();
  }
}

/**
 * A killed run's lease would keep the next run out until it expires (15 s): the worker is known dead here, so its
 * lease is removed as an operator would (`datakeep` leases expire on their own; the lock suites test that).
 */
async function leaseFree(state: pg.Client): Promise<void> {
  await state.query(`DELETE FROM datakeep.leases WHERE name LIKE 'job:lifecycle:%'`).catch(() => undefined);
}
