// Point-in-time recovery as a property: on one cluster, a writer commits numbered rows while datakeep takes a full,
// a differential and two incrementals; for 12 seeded-random target instants across the window (as a Date, as ISO
// strings with Z and with offsets, as a PostgreSQL literal, and through the CLI), restore and start: the restored
// table holds exactly the rows committed at or before the target, restored from the newest backup consistent before
// it (also when the id of a backup consistent only after the target is given). The restored clusters keep datakeep's default
// archiving settings, and must not archive into their source's repository. 6 targets are restored in this
// process, 6 in a child process with TZ=America/New_York at the same time (two restores at a time in each): each
// process gets every target form once, and the planned kinds (around each backup's stop, during each backup, the last
// commit) all fit in 12. DATAKEEP_PITR_TARGETS=N restores N per process instead, for a longer search.
// Replay a run's targets with DATAKEEP_PITR_SEED=<seed> (the commit times differ from run to run).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import {
  describeOutcome, isForeignWal, listSourceWal, outcomeProblems, PITR_DATABASE_ID, planTargets, readCommits, RESULT_MARKER,
  progressLine, restoreAll, ROOT, RowWriter, seededRandom, setSeed, sleep, startPitrCluster, stopRestoredServersUnder,
  type BackupPoint, type ChildSpec, type PitrCluster, type PlannedTarget, type RestoreContext, type RestoreOutcome,
} from '../support/pitr-writer.js';

const PER_PROCESS = Number(process.env.DATAKEEP_PITR_TARGETS ?? 6);
const IN_PROCESS_TARGETS = PER_PROCESS;
const OTHER_TZ_TARGETS = PER_PROCESS;
const OTHER_TZ = 'America/New_York';
/** Restores at a time in each of the two processes: they mostly wait on restore_command, one process per WAL file. */
const CONCURRENCY = 2;

const seed = process.env.DATAKEEP_PITR_SEED !== undefined ? Number(process.env.DATAKEEP_PITR_SEED) : randomInt(2 ** 31);
setSeed(seed);
console.log(`pitr-property: seed ${seed} (replay with DATAKEEP_PITR_SEED=${seed})`);

/** The property itself: the restore worked, the rows are exactly the expected ones, the source archive is clean. */
function assertOutcome(o: RestoreOutcome): void {
  if (outcomeProblems(o).length > 0) assert.fail(describeOutcome(o));
}

function testName(t: PlannedTarget): string {
  return `#${t.index} ${t.form}${t.cliText ? ` (${t.cliText})` : ''} ${t.value}: ${t.kind}`;
}

describe('PITR property: restored rows are exactly those committed before the target', () => {
  let env: PitrCluster | undefined;
  let dataManager: DataManager | undefined;
  let writer: RowWriter | undefined;
  let context: RestoreContext;
  let plan: PlannedTarget[] = [];
  let child: ChildProcess | undefined;
  let childResult: Promise<ChildRun> | undefined;
  const previousPassphraseFile = process.env.DATAKEEP_REPO_PASSPHRASE_FILE;

  before(async () => {
    // Two streams: the writer's draws depend on timing, the plan's must not.
    const random = seededRandom(seed);
    const writerRandom = seededRandom(seed ^ 0x5bd1e995);
    env = await startPitrCluster('pitr-property');
    const { cluster, destination } = env;
    process.env.DATAKEEP_REPO_PASSPHRASE_FILE = env.passphraseFile;
    const database = { ...cluster.config, id: PITR_DATABASE_ID };
    dataManager = new DataManager({ config: { databases: [database], state: { url: cluster.url }, logLevel: 'error' } });
    await dataManager.initialize();
    await cluster.query('CREATE TABLE t (n int PRIMARY KEY)');

    // The writing phase: rows every 20-50 ms throughout, four backups a few seconds apart, WAL switched now and then.
    writer = new RowWriter(cluster, writerRandom);
    await writer.start();
    const backup = async (type: 'full' | 'differential' | 'incremental') => {
      const result = await dataManager!.createBackup({ type, destination, compression: true, encryption: true, retention: { daily: 7, weekly: 4, monthly: 12, yearly: 5 } });
      assert.equal(result.type, type, `createBackup(${type}) made a ${result.type}`);
      return result;
    };
    const phaseStarted = Date.now();
    await sleep(1000);
    await backup('full');
    await sleep(1000);
    await backup('differential');
    await sleep(800);
    await cluster.query('SELECT pg_switch_wal()');
    await sleep(700);
    await backup('incremental');
    await sleep(1000);
    await backup('incremental');
    await sleep(1200);
    const lastRow = await writer.stop();
    writer = undefined;
    console.log(`pitr-property: writer committed ${lastRow} rows in ${((Date.now() - phaseStarted) / 1000).toFixed(1)} s`);

    // Every commit must be in the archive before any restore: switch and wait for that segment.
    const [switched] = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()');
    const deadline = Date.now() + 60_000;
    const walContext = { destination, databaseId: PITR_DATABASE_ID, passphraseFile: env.passphraseFile };
    let archived = await listSourceWal(walContext);
    while (!archived.includes(switched!.name)) {
      if (Date.now() > deadline) throw new Error(`segment ${switched!.name} not archived after 60 s\n${cluster.logTail()}`);
      await sleep(200);
      archived = await listSourceWal(walContext);
    }
    assert.deepEqual(archived.filter(isForeignWal), [], 'the source archive has only timeline 1 before any restore');

    const commits = await readCommits(cluster);
    assert.equal(commits.length, lastRow);
    const summaries = await dataManager.backups.listBackups();
    assert.deepEqual(summaries.map((s) => s.type), ['full', 'differential', 'incremental', 'incremental'], 'all four backups are listed, oldest first');
    const backups: BackupPoint[] = summaries.map((s) => {
      const stopTime = s.metadata.stopTime;
      assert.equal(typeof stopTime, 'string', `backup ${s.backupId} records its stop time`);
      return { backupId: s.backupId, type: s.type, startUs: new Date(s.startedAt).getTime() * 1000, stopUs: new Date(stopTime as string).getTime() * 1000, stopTime: stopTime as string };
    });
    console.log(`pitr-property: backups ${backups.map((b) => `${b.type} ${b.backupId} stop ${b.stopTime}`).join('; ')}`);
    plan = planTargets(commits, backups, IN_PROCESS_TARGETS + OTHER_TZ_TARGETS, random);
    assert.equal(plan.length, IN_PROCESS_TARGETS + OTHER_TZ_TARGETS);

    const configFile = join(env.work, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({ databases: [database], state: { url: cluster.url }, logLevel: 'error', backups: { destination } }, null, 2));
    context = { work: env.work, destination, databaseId: PITR_DATABASE_ID, passphraseFile: env.passphraseFile, configFile, database, stateUrl: cluster.url, seed };

    // The TZ child restores its share while this process restores the rest (restores mostly wait on restore_command).
    childResult = runChild(context, plan.slice(IN_PROCESS_TARGETS), (proc) => {
      child = proc;
    });
    childResult.catch(() => undefined);
  }, { timeout: 150_000 });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await writer?.stop().catch(() => undefined);
    await dataManager?.close().catch(() => undefined);
    if (env) await stopRestoredServersUnder(env.work);
    if (previousPassphraseFile === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
    else process.env.DATAKEEP_REPO_PASSPHRASE_FILE = previousPassphraseFile;
    await env?.cluster.destroy();
    if (env) rmSync(env.work, { recursive: true, force: true });
  });

  it(`restores ${IN_PROCESS_TARGETS} targets in this process (TZ=${process.env.TZ ?? 'unset'})`, { timeout: 600_000 }, async (t) => {
    const outcomes = await restoreAll(dataManager!, context, plan.slice(0, IN_PROCESS_TARGETS), CONCURRENCY, (outcome) => {
      console.log(`pitr-property: ${progressLine(outcome)}`);
    }, t.signal);
    for (const outcome of outcomes) await t.test(testName(outcome.target), () => assertOutcome(outcome));
    assert.equal(outcomes.length, IN_PROCESS_TARGETS, 'every target was restored');
  });

  it(`restores ${OTHER_TZ_TARGETS} targets in a child process with TZ=${OTHER_TZ}`, { timeout: 600_000 }, async (t) => {
    assert.ok(childResult, 'the child was started');
    const { code, signal, stdout, stderr } = await childResult;
    const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
    assert.ok(code === 0 && line !== undefined, `the TZ=${OTHER_TZ} child exited with ${code ?? signal} and ${line ? 'a' : 'no'} result line; stderr:\n${stderr.slice(-4000)}`);
    const result = JSON.parse(line.slice(RESULT_MARKER.length)) as { tz: string; offsetMinutes: number; outcomes: RestoreOutcome[] };
    assert.equal(result.tz, OTHER_TZ);
    assert.notEqual(result.offsetMinutes, 0, `TZ=${OTHER_TZ} took effect in the child`);
    assert.equal(result.outcomes.length, OTHER_TZ_TARGETS, 'the child restored every target it was given');
    for (const outcome of result.outcomes) {
      await t.test(`${testName(outcome.target)} (TZ=${result.tz})`, () => {
        console.log(`pitr-property: TZ=${result.tz} ${progressLine(outcome)}`);
        assertOutcome(outcome);
      });
    }
  });
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx test/support/pitr-writer.ts SPEC` with TZ=OTHER_TZ; killed (by its PID) after 380 s. */
function runChild(context: RestoreContext, targets: readonly PlannedTarget[], started: (proc: ChildProcess) => void): Promise<ChildRun> {
  const specFile = join(context.work, 'tz-child-spec.json');
  writeFileSync(specFile, JSON.stringify({ context, targets, concurrency: CONCURRENCY } satisfies ChildSpec));
  return new Promise<ChildRun>((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'support', 'pitr-writer.ts'), specFile], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TZ: OTHER_TZ, DATAKEEP_REPO_PASSPHRASE_FILE: context.passphraseFile, NODE_NO_WARNINGS: '1' },
    });
    started(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    proc.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      if (proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    }, 380_000);
    proc.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
