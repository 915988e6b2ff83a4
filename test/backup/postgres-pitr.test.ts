import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupPostgres, PostgresBackupError, restorePostgres } from '../../src/engines/postgres/backup/index.js';
import type { BackupType } from '../../src/repository/repository-types.js';
import { startArchivingPostgres, type ArchivingPostgres } from '../support/archiving-postgres.js';

// One cluster archiving into one repository; each chain is restored into new directories and started.
let env: ArchivingPostgres;
const DB = 'app';

before(async () => {
  env = await startArchivingPostgres('pitr');
  await env.cluster.query('CREATE TABLE events (id serial PRIMARY KEY, phase text NOT NULL, payload text)');
});
after(async () => {
  await env?.destroy();
});

async function insert(phase: string, rows = 50): Promise<void> {
  await env.cluster.query(`INSERT INTO events (phase, payload) SELECT $1, repeat(md5(g::text), 20) FROM generate_series(1, ${rows}) g`, [phase]);
}

function backup(type: BackupType) {
  return backupPostgres({ connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' }, dataDirectory: env.cluster.dataDir, repository: env.repository, type, database: DB });
}

/** Restores `backupId` (to a target or to the end of the archive), starts it, and returns the phases it holds. */
async function restoreAndRead(backupId: string | undefined, name: string, target?: { time: Date }): Promise<Map<string, number> & { base?: string }> {
  const to = env.restoreDir(name);
  const port = await env.freePort();
  const result = await restorePostgres({
    repository: env.repository, backupId, to, target, restoreCommand: env.restoreCommand,
    settings: { archive_mode: 'off' }, start: { port },
  });
  try {
    const rows = await env.queryRestored<{ phase: string; n: string }>(port, 'SELECT phase, count(*) AS n FROM events GROUP BY phase');
    const recovering = await env.queryRestored<{ r: boolean }>(port, 'SELECT pg_is_in_recovery() AS r');
    assert.equal(recovering[0]!.r, false, 'the restored server promoted');
    return Object.assign(new Map(rows.map((r) => [r.phase, Number(r.n)])), { base: result.backupId });
  } finally {
    await env.stopRestored(to);
  }
}

/** The server's clock: recovery_target_time is compared with commit timestamps written by the server. */
async function serverNow(): Promise<Date> {
  const [row] = await env.cluster.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return new Date(row!.now);
}

for (const chainType of ['incremental', 'differential'] as const) {
  describe(`point-in-time recovery through a ${chainType} chain`, () => {
    it(`restores to a chosen second: rows before it are there, rows after it are not`, async () => {
      const tag = chainType.slice(0, 4);
      const full = await backup('full');
      await insert(`${tag}-a`);
      const first = await backup(chainType);
      assert.equal(first.parent, full.backupId);
      await insert(`${tag}-t1`);
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      await sleep(1100);
      const target = await serverNow();
      await sleep(1100);
      await insert(`${tag}-t2`);
      await env.switchAndArchive();
      const second = await backup(chainType);
      assert.equal(second.parent, chainType === 'incremental' ? first.backupId : full.backupId);
      assert.ok(second.manifest.chain.includes(full.backupId), 'the manifest records its chain down to the full');
      if (chainType === 'incremental') assert.ok(second.manifest.chain.includes(first.backupId));
      else assert.ok(!second.manifest.chain.includes(first.backupId));

      const phases = await restoreAndRead(undefined, `restored-${tag}`, { time: target });
      assert.equal(phases.base, first.backupId, 'the newest backup consistent before the target is the base');
      assert.equal(phases.get(`${tag}-a`), 50);
      assert.equal(phases.get(`${tag}-t1`), 50);
      assert.equal(phases.has(`${tag}-t2`), false, 'rows committed after the target are not restored');
    });
  });
}

describe('restore without a target', () => {
  it('replays every archived segment: rows written after the last backup are there', async () => {
    await insert('base');
    const last = await backup('incremental');
    await insert('after-last-backup');
    await env.switchAndArchive();
    const phases = await restoreAndRead(last.backupId, 'restored-latest');
    assert.equal(phases.get('base'), 50);
    assert.equal(phases.get('after-last-backup'), 50);
    // Everything the chains above wrote is there too.
    assert.equal(phases.get('incr-t2'), 50);
    assert.equal(phases.get('diff-t2'), 50);
  });
});

describe('restore destination', () => {
  it('refuses a running cluster\'s data directory and a non-empty directory, before writing anything', async () => {
    const [latest] = (await env.repository.list()).slice(-1);
    const attempt = (to: string) => restorePostgres({ repository: env.repository, backupId: latest!.backupId, to, restoreCommand: env.restoreCommand });
    await assert.rejects(attempt(env.cluster.dataDir), (error: unknown) =>
      error instanceof PostgresBackupError && error.reason === 'unsafe-destination' && /running PostgreSQL server/.test(error.message));
    const nonEmpty = env.restoreDir('non-empty');
    mkdirSync(nonEmpty, { recursive: true });
    writeFileSync(join(nonEmpty, 'keep.txt'), 'user data');
    await assert.rejects(attempt(nonEmpty), (error: unknown) =>
      error instanceof PostgresBackupError && error.reason === 'unsafe-destination' && /not empty/.test(error.message));
    assert.deepEqual(readdirSync(nonEmpty), ['keep.txt']);
    assert.ok(env.cluster.isRunning());
  });
});
