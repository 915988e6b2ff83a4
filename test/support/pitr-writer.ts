// The machinery of test/backup/pitr-property.test.ts: a cluster with commit timestamps, a writer that commits
// numbered rows, the choice of recovery targets from the source's own commit timestamps, and one restore checked
// against them. Run directly (`node --import tsx test/support/pitr-writer.ts SPEC.json`), it restores the targets
// of a spec written by the test (in the child process that has another TZ) and prints one `PITR-RESULT {json}` line.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual, promisify } from 'node:util';
import pg from 'pg';
import { DataManager } from '../../src/index.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { shellQuote } from '../../src/util/shell-quote.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { openRepository } from '../../src/repository/index.js';
import { chownTree } from './archiving-postgres.js';
import { freePort } from './free-port.js';
import { PG_BIN_DIR, ThrowawayPostgres } from './throwaway-postgres.js';

const execFileAsync = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const PITR_DATABASE_ID = 'app';

// ---------------------------------------------------------------------------------------------------------------
// Randomness: seeded, so that a failing run can be replayed with DATAKEEP_PITR_SEED.

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The source cluster.

export interface PitrCluster {
  readonly cluster: ThrowawayPostgres;
  readonly work: string;
  /** DESTINATION: the repository of the database is DESTINATION/<database id>. */
  readonly destination: string;
  readonly passphraseFile: string;
  readonly passphrase: string;
}

/**
 * test/support/datakeep-backup-cluster.ts's startBackupCluster, with `track_commit_timestamp = on`: archive_command
 * is datakeep's `wal push` into DESTINATION/<database id>, as docs/backups.md tells users to set it up.
 */
export async function startPitrCluster(name: string, databaseId = PITR_DATABASE_ID): Promise<PitrCluster> {
  const work = mkdtempSync(join(tmpdir(), `dk-${name}-`));
  const destination = join(work, 'backups');
  const passphraseFile = join(work, 'passphrase');
  const passphrase = `pitr property passphrase ${process.pid}`;
  writeFileSync(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
  chownTree(work);
  const push = [...datakeepCommandLine(), 'wal', 'push', '%p', '--repo', join(destination, databaseId), '--passphrase-file', passphraseFile]
    .map((a) => (a === '%p' ? a : shellQuote(a))).join(' ');
  const cluster = new ThrowawayPostgres({
    name,
    config: ['wal_level = replica', 'archive_mode = on', `archive_command = '${push.replace(/'/g, "''")}'`, 'archive_timeout = 0', 'track_commit_timestamp = on'],
  });
  try {
    await cluster.init();
    await cluster.start();
  } catch (error) {
    await cluster.destroy().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
  return { cluster, work, destination, passphraseFile, passphrase };
}

// ---------------------------------------------------------------------------------------------------------------
// The writer: row n = 1, 2, 3, ... each in its own transaction, 20-50 ms apart, on its own connection.

export class RowWriter {
  #client: pg.Client | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #committed = 0;

  constructor(private readonly cluster: ThrowawayPostgres, private readonly random: () => number, private readonly table = 't') {}

  /** The last n whose INSERT has returned (committed). */
  get committed(): number {
    return this.#committed;
  }

  async start(): Promise<void> {
    if (this.#loop) throw new Error('RowWriter: already started');
    this.#client = await this.cluster.connect();
    const client = this.#client;
    this.#loop = (async () => {
      while (!this.#stopping) {
        const n = this.#committed + 1;
        await client.query(`INSERT INTO ${this.table} (n) VALUES ($1)`, [n]);
        this.#committed = n;
        await sleep(20 + Math.floor(this.random() * 31));
      }
    })();
    // A failure is reported by stop(); until then it must not be an unhandled rejection.
    this.#loop.catch(() => undefined);
  }

  /** Stops after the INSERT in flight; rethrows the loop's error, if it had one. Idempotent. */
  async stop(): Promise<number> {
    this.#stopping = true;
    try {
      await this.#loop;
    } finally {
      const client = this.#client;
      this.#client = undefined;
      await client?.end().catch(() => undefined);
    }
    return this.#committed;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ground truth and targets.

/** A committed row and its commit timestamp in microseconds since the epoch (exact: from PostgreSQL's numeric). */
export interface Commit {
  readonly n: number;
  readonly us: number;
}

export async function readCommits(cluster: ThrowawayPostgres, table = 't'): Promise<Commit[]> {
  const rows = await cluster.query<{ n: number; us: string | null }>(
    `SELECT n, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000000)::bigint AS us FROM ${table} ORDER BY n`);
  return rows.map((r) => {
    if (r.us === null) throw new Error(`row ${r.n} has no commit timestamp: is track_commit_timestamp on?`);
    const us = Number(r.us);
    if (!Number.isSafeInteger(us)) throw new Error(`row ${r.n}: commit timestamp ${r.us} µs is not a safe integer`);
    return { n: r.n, us };
  });
}

/** A backup as the targets need it: when it was consistent, by its recorded stop time (whole milliseconds). */
export interface BackupPoint {
  readonly backupId: string;
  readonly type: string;
  readonly startUs: number;
  readonly stopUs: number;
  readonly stopTime: string;
}

export type TargetForm = 'date' | 'iso-z' | 'offset+05:30' | 'offset-03:00' | 'pg+00' | 'cli';
export const TARGET_FORMS: readonly TargetForm[] = ['date', 'iso-z', 'offset+05:30', 'offset-03:00', 'pg+00', 'cli'];

export interface PlannedTarget {
  /** Position in the whole plan (1-based) and what the target is meant to exercise. */
  readonly index: number;
  readonly kind: string;
  readonly form: TargetForm;
  /** The instant, in microseconds since the epoch; strictly between the commits of rows `after` and `after + 1`. */
  readonly targetUs: number;
  /** What is handed to datakeep: a Date's milliseconds (form 'date'), else the string. */
  readonly value: string;
  readonly dateMs?: number;
  /** For the CLI form: which textual form the --target-time string has. */
  readonly cliText?: 'iso-z' | 'offset-03:00' | 'pg+00' | 'offset+05:30';
  /** The last row committed at or before the target; the restored table must hold exactly rows 1..after. */
  readonly after: number;
  readonly gapUs: readonly [number, number];
  readonly expected: readonly number[];
  /** The newest backup consistent before the target (the base datakeep documents it picks), for messages. */
  readonly expectedBase: string;
  /**
   * The bases that satisfy that rule: the newest backup whose recorded stop (kept to the millisecond, truncated) plus
   * 1 ms is at or before the target, and any backup whose stop lies within the millisecond before the target (which
   * one is newest there depends on the truncated digits).
   */
  readonly acceptableBases: readonly string[];
  /**
   * Restore with this backup id given (a backup consistent only after the target): datakeep documents that an
   * ancestor consistent before the target is then used instead.
   */
  readonly requestBackupId?: string;
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** The instant `us` as the wall time at a fixed UTC offset, e.g. 2026-12-02T04:26:06.518123+05:30. */
export function wallTime(us: number, offsetMinutes: number, options: { separator?: 'T' | ' '; zone?: 'offset' | 'Z' | '+00' } = {}): string {
  const wall = us + offsetMinutes * 60_000_000;
  const ms = Math.floor(wall / 1000);
  const micros = wall - ms * 1000;
  const d = new Date(ms);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  const time = `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}${pad(micros, 3)}`;
  const abs = Math.abs(offsetMinutes);
  const zone = options.zone === 'Z' ? 'Z' : options.zone === '+00' ? '+00' : `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
  return `${date}${options.separator ?? 'T'}${time}${zone}`;
}

function textFor(form: Exclude<TargetForm, 'date' | 'cli'>, us: number): string {
  switch (form) {
    case 'iso-z':
      return wallTime(us, 0, { zone: 'Z' });
    case 'offset+05:30':
      return wallTime(us, 5 * 60 + 30);
    case 'offset-03:00':
      return wallTime(us, -3 * 60);
    case 'pg+00':
      return wallTime(us, 0, { separator: ' ', zone: '+00' });
  }
}

/**
 * `count` targets over the window from just after the first backup's stop to just before the last commit: right
 * after each backup's stop, just before (and during) the 2nd, 3rd and 4th backups (whose base must then be an older
 * backup), the last gap, and the rest uniformly at random. Each lies strictly between two consecutive commit
 * timestamps (their midpoint, in whole microseconds; in whole milliseconds for a Date), so that the expected rows do
 * not depend on recovery_target_inclusive. Forms rotate over TARGET_FORMS after a seeded shuffle.
 */
export function planTargets(commits: readonly Commit[], backups: readonly BackupPoint[], count: number, random: () => number): PlannedTarget[] {
  for (let i = 1; i < commits.length; i++) {
    if (commits[i]!.n !== commits[i - 1]!.n + 1) throw new Error(`rows are not numbered 1, 2, 3...: ${commits[i - 1]!.n} then ${commits[i]!.n}`);
    if (!(commits[i]!.us > commits[i - 1]!.us)) throw new Error(`commit timestamps are not increasing: row ${commits[i - 1]!.n} at ${commits[i - 1]!.us} µs, row ${commits[i]!.n} at ${commits[i]!.us} µs`);
  }
  if (backups.length < 1) throw new Error('planTargets: no backups');
  // Gap g lies between commits[g] and commits[g + 1]. The first backup's stop is recorded in whole milliseconds
  // (rounded down), so "after it" means at least a millisecond after the recorded value.
  const firstGap = commits.findIndex((c) => c.us >= backups[0]!.stopUs + 1000);
  if (firstGap < 0 || firstGap >= commits.length - 1) throw new Error('planTargets: no commits after the first backup');
  const lastGap = commits.length - 2;
  const gapsAfter = (us: number) => commits.findIndex((c, i) => i >= firstGap && i <= lastGap && c.us >= us + 1000);
  const lastGapBefore = (us: number) => {
    for (let g = lastGap; g >= firstGap; g--) if (commits[g + 1]!.us < us) return g;
    return -1;
  };
  const randomGap = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

  const wanted: { kind: string; gap: number; request?: BackupPoint }[] = [];
  backups.forEach((b, i) => {
    const g = gapsAfter(b.stopUs);
    if (g >= 0) wanted.push({ kind: `right after backup ${i + 1} (${b.type}) stopped`, gap: g });
  });
  backups.slice(1).forEach((b, j) => {
    const i = j + 1;
    const before = lastGapBefore(b.stopUs);
    if (before >= 0) wanted.push({ kind: `just before backup ${i + 1} (${b.type}) stopped, restored with that backup's id: the base must be an ancestor`, gap: before, request: b });
    const startGap = Math.max(firstGap, commits.findIndex((c) => c.us > b.startUs));
    if (before >= startGap && startGap >= 0) wanted.push({ kind: `while backup ${i + 1} (${b.type}) was running: the base must be an older backup`, gap: randomGap(startGap, before) });
  });
  wanted.push({ kind: 'just before the last commit', gap: lastGap });
  while (wanted.length < count) wanted.push({ kind: 'uniformly random in the window', gap: randomGap(firstGap, lastGap) });
  const chosen = wanted.slice(0, count);
  // Fisher-Yates, so that each form and each process (in-process / other TZ) gets a mix of kinds.
  for (let i = chosen.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [chosen[i], chosen[j]] = [chosen[j]!, chosen[i]!];
  }
  let cliCount = 0;
  const cliTexts = ['iso-z', 'offset-03:00', 'pg+00', 'offset+05:30'] as const;
  return chosen.map(({ kind, gap, request }, i) => {
    const form = TARGET_FORMS[i % TARGET_FORMS.length]!;
    const lo = commits[gap]!.us;
    const hi = commits[gap + 1]!.us;
    let targetUs: number;
    let dateMs: number | undefined;
    if (form === 'date') {
      dateMs = Math.round((lo + hi) / 2 / 1000);
      if (!(dateMs * 1000 > lo && dateMs * 1000 < hi)) dateMs = Math.floor(lo / 1000) + 1;
      if (!(dateMs * 1000 > lo && dateMs * 1000 < hi)) throw new Error(`no whole millisecond strictly between ${lo} and ${hi} µs`);
      targetUs = dateMs * 1000;
    } else {
      targetUs = Math.floor((lo + hi) / 2);
      if (!(targetUs > lo && targetUs < hi)) throw new Error(`no microsecond strictly between ${lo} and ${hi}`);
    }
    const cliText = form === 'cli' ? cliTexts[cliCount++ % cliTexts.length]! : undefined;
    const value = form === 'date' ? new Date(dateMs!).toISOString() : textFor(form === 'cli' ? cliText! : form, targetUs);
    const expected = commits.filter((c) => c.us <= targetUs).map((c) => c.n);
    const newest = backups.filter((b) => b.stopUs + 1000 <= targetUs).at(-1);
    const withinTheMillisecond = backups.filter((b) => b.stopUs < targetUs && targetUs < b.stopUs + 1000);
    const acceptable = [...(newest ? [newest] : []), ...withinTheMillisecond];
    return {
      index: i + 1, kind, form, targetUs, value, dateMs, cliText, after: commits[gap]!.n, gapUs: [lo, hi] as const, expected,
      expectedBase: acceptable.map((b) => `${b.backupId} (${b.type})`).join(' or ') || '(none)',
      acceptableBases: acceptable.map((b) => b.backupId),
      requestBackupId: request?.backupId,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// One restore, checked.

/** What a restore needs, and what a child process is given as its spec. */
export interface RestoreContext {
  readonly work: string;
  readonly destination: string;
  readonly databaseId: string;
  readonly passphraseFile: string;
  /** The CLI's --config file: the source database, the state store, backups.destination. */
  readonly configFile: string;
  readonly database: DatabaseConfig & { id: string };
  readonly stateUrl: string;
  readonly seed: number;
}

export interface RestoreOutcome {
  readonly target: PlannedTarget;
  readonly tz: string;
  /** Rows of the restored table, or null when the restore or the query failed (see error). */
  readonly got: number[] | null;
  readonly error?: string;
  readonly backupId?: string;
  /** Files of the source repository's WAL archive from another timeline (history, partial, TLI != 1). */
  readonly foreignWal: readonly string[];
  /** Of those, the ones that appeared during this restore. */
  readonly foreignWalNew: readonly string[];
  readonly walListError?: string;
  /** The restored server's archiving, as it saw it. */
  readonly archiver?: string;
  /** The restored server is configured to archive (archive_mode not off) into the source's repository. */
  readonly archivesIntoSource?: boolean;
  readonly logTail?: string;
  readonly seconds: number;
}

/** A WAL archive entry not of the source's own timeline 1: a timeline history file, a .partial, or TLI != 1. */
export function isForeignWal(name: string): boolean {
  if (/\.(history|partial)$/.test(name)) return true;
  return !/^00000001[0-9A-F]{16}(\.[0-9A-F]{8}\.backup)?$/.test(name);
}

export async function listSourceWal(ctx: Pick<RestoreContext, 'destination' | 'databaseId' | 'passphraseFile'>): Promise<string[]> {
  const passphrase = readFileSync(ctx.passphraseFile, 'utf8').split(/\r?\n/, 1)[0]!;
  const repository = await openRepository(join(ctx.destination, ctx.databaseId), { passphrase, workers: 1 });
  try {
    return await repository.listWal();
  } finally {
    await repository.close();
  }
}

/** Restores one target (with `dm`, or through the CLI for form 'cli'), starts it, reads it, stops it, removes it. */
export async function restoreAndCheck(dm: DataManager, ctx: RestoreContext, target: PlannedTarget): Promise<RestoreOutcome> {
  const started = Date.now();
  const to = join(ctx.work, `restored-${process.pid}-${target.index}`);
  const tz = process.env.TZ ?? '(unset)';
  let got: number[] | null = null;
  let error: string | undefined;
  let backupId: string | undefined;
  let archiver: string | undefined;
  let archivesIntoSource: boolean | undefined;
  let logTail: string | undefined;
  let before: string[] = [];
  let after: string[] = [];
  let walListError: string | undefined;
  try {
    before = await listSourceWal(ctx);
  } catch (e) {
    walListError = `listing the source repository's WAL before the restore: ${(e as Error).message}`;
  }
  try {
    const port = await freePort('127.0.0.1');
    if (target.form === 'cli') {
      backupId = await restoreThroughCli(ctx, target.value, to, port, target.requestBackupId);
    } else {
      const targetTime = target.form === 'date' ? new Date(target.dateMs!) : target.value;
      backupId = (await withTimeout(dm.restoreBackup(target.requestBackupId, { targetTime, to, start: { port } }), RESTORE_TIMEOUT_MS, 'restoreBackup')).backupId;
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const recovering = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
      if (recovering) throw new Error('the restored server is still in recovery after the restore returned');
      got = (await client.query<{ ns: number[] | null }>('SELECT array_agg(n ORDER BY n) AS ns FROM t')).rows[0]!.ns ?? [];
      const settled = await settleArchiver(client, join(ctx.destination, ctx.databaseId));
      archiver = settled.text;
      archivesIntoSource = settled.intoSource;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (e) {
    error = (e as Error).message;
  } finally {
    logTail = readTail(join(to, 'datakeep-restore.log'), 25);
    await stopServerIn(to);
    rmSync(to, { recursive: true, force: true });
  }
  try {
    after = await listSourceWal(ctx);
  } catch (e) {
    walListError = `${walListError ? `${walListError}; ` : ''}listing the source repository's WAL after the restore: ${(e as Error).message}`;
  }
  const foreignWal = after.filter(isForeignWal).sort();
  const foreignWalNew = foreignWal.filter((name) => !before.includes(name));
  return { target, tz, got, error, backupId, foreignWal, foreignWalNew, walListError, archiver, archivesIntoSource, logTail, seconds: (Date.now() - started) / 1000 };
}

/**
 * Restores `targets` with at most `concurrency` restores at a time (each mostly waits on PostgreSQL fetching WAL
 * through restore_command), reporting each outcome as it comes; stops starting new ones once `signal` aborts.
 * Outcomes come back in the targets' order.
 */
export async function restoreAll(dm: DataManager, ctx: RestoreContext, targets: readonly PlannedTarget[], concurrency: number,
  onOutcome: (outcome: RestoreOutcome) => void, signal?: AbortSignal): Promise<RestoreOutcome[]> {
  const outcomes: RestoreOutcome[] = new Array<RestoreOutcome>(targets.length);
  let next = 0;
  const lane = async () => {
    while (next < targets.length && !signal?.aborted) {
      const i = next++;
      outcomes[i] = await restoreAndCheck(dm, ctx, targets[i]!);
      onOutcome(outcomes[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, targets.length)) }, lane));
  return outcomes.filter((o) => o !== undefined);
}

/**
 * Waits (up to 5 s) until the restored server has no WAL file waiting to be archived, so that a restored server that
 * archives does so before it is looked at; returns what it reports about archiving.
 */
async function settleArchiver(client: pg.Client, sourceRepository: string): Promise<{ text: string; intoSource: boolean }> {
  const deadline = Date.now() + 5_000;
  let ready: string[] = [];
  for (;;) {
    ready = (await client.query<{ name: string }>("SELECT name FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready' ORDER BY name")).rows.map((r) => r.name);
    if (ready.length === 0 || Date.now() > deadline) break;
    await sleep(200);
  }
  const { mode, command } = (await client.query<{ mode: string; command: string }>(
    "SELECT current_setting('archive_mode') AS mode, current_setting('archive_command') AS command")).rows[0]!;
  const stats = (await client.query<{ archived_count: string; failed_count: string; last_archived_wal: string | null; last_failed_wal: string | null }>(
    'SELECT archived_count, failed_count, last_archived_wal, last_failed_wal FROM pg_stat_archiver')).rows[0]!;
  const repo = /--repo\s+('[^']*'|\S+)/.exec(command)?.[1];
  const intoSource = mode !== 'off' && command.includes(sourceRepository);
  const shown = repo !== undefined ? `... --repo ${repo} ...` : command.length > 120 ? `${command.slice(0, 120)}...` : command;
  return {
    intoSource,
    text: `archive_mode=${mode}, archive_command=${JSON.stringify(shown)}; archived ${stats.archived_count} (last ${stats.last_archived_wal ?? '-'}), failed ${stats.failed_count} (last ${stats.last_failed_wal ?? '-'}), waiting: ${ready.join(' ') || 'none'}`,
  };
}

/** `datakeep restore [ID] --target-time T --to DIR --start-port P --dest DESTINATION --config FILE --json`, as a user runs it. */
async function restoreThroughCli(ctx: RestoreContext, targetTime: string, to: string, port: number, backupId: string | undefined): Promise<string | undefined> {
  const args = ['--import', 'tsx', join(ROOT, 'src', 'cli', 'run.ts'), 'restore', ...(backupId ? [backupId] : []), '--config', ctx.configFile, '--target-time', targetTime,
    '--to', to, '--start-port', String(port), '--dest', ctx.destination, '--json'];
  try {
    const { stdout } = await execFileAsync(process.execPath, args, {
      cwd: ROOT, timeout: RESTORE_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, DATAKEEP_REPO_PASSPHRASE_FILE: ctx.passphraseFile, NODE_NO_WARNINGS: '1' },
    });
    try {
      return (JSON.parse(stdout) as { backupId?: string }).backupId;
    } catch {
      return undefined;
    }
  } catch (e) {
    const x = e as { code?: number | string; signal?: string; killed?: boolean; stderr?: string; stdout?: string };
    throw new Error(`datakeep restore exited with ${x.killed ? `a timeout (${RESTORE_TIMEOUT_MS / 1000} s)` : `code ${String(x.code)}${x.signal ? ` (${x.signal})` : ''}`}, not 0: ${(x.stderr || x.stdout || String(e)).trim().slice(0, 3000)}`);
  }
}

/** pg_ctl stop -m immediate as postgres for a restored directory with a postmaster.pid; SIGKILL if that fails. */
export async function stopServerIn(dir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  } catch {
    return;
  }
  const pgCtl = join(PG_BIN_DIR, 'pg_ctl');
  const [cmd, argv] = process.getuid?.() === 0
    ? ['runuser', ['-u', 'postgres', '--', pgCtl, 'stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30']]
    : [pgCtl, ['stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30']];
  try {
    await execFileAsync(cmd as string, argv as string[], { cwd: '/', timeout: 40_000 });
  } catch {
    try {
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stops the server of every restored-* directory under `work` (cleanup after a failure or a killed child); with
 * `onlyThisProcess`, only those of this process's restores (the other process may be restoring at the same time).
 */
export async function stopRestoredServersUnder(work: string, options: { onlyThisProcess?: boolean } = {}): Promise<void> {
  if (!existsSync(work)) return;
  const prefix = options.onlyThisProcess ? `restored-${process.pid}-` : 'restored-';
  for (const name of readdirSync(work)) {
    if (name.startsWith(prefix)) await stopServerIn(join(work, name));
  }
}

function readTail(file: string, lines: number): string | undefined {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return undefined;
  }
}

/** "1..412 (412 rows)" for a prefix of 1, 2, 3...; otherwise the count, the ends and the first irregularity. */
export function summarizeRows(ns: readonly number[] | null): string {
  if (ns === null) return '(nothing: the restore failed)';
  if (ns.length === 0) return 'no rows';
  if (ns.every((n, i) => n === i + 1)) return `rows 1..${ns.length} (${ns.length} rows)`;
  const odd = ns.findIndex((n, i) => n !== i + 1);
  return `${ns.length} rows from ${ns[0]} to ${ns.at(-1)}, first irregularity at position ${odd + 1}: ${ns[odd]} (expected ${odd + 1})`;
}

/** One line per finished restore, for the log while the run goes on. */
export function progressLine(o: RestoreOutcome): string {
  const t = o.target;
  return `#${t.index} ${t.form}${t.cliText ? ` (${t.cliText})` : ''} ${t.value}${t.requestBackupId ? ` [id ${t.requestBackupId}]` : ''} -> ${summarizeRows(o.got)} (expected ${t.expected.length} rows)${o.error ? ' ERROR' : ''}, base ${o.backupId ?? '?'}, ${o.seconds.toFixed(1)} s`;
}

/** What is wrong with an outcome; empty when the property holds. */
export function outcomeProblems(o: RestoreOutcome): string[] {
  const problems: string[] = [];
  if (o.error !== undefined) problems.push('the restore failed');
  else if (o.got === null) problems.push('no rows were read');
  else if (!isDeepStrictEqual(o.got, o.target.expected)) problems.push(`the restored rows differ: expected ${summarizeRows(o.target.expected)}, got ${summarizeRows(o.got)}`);
  if (o.error === undefined && o.got !== null && !o.target.acceptableBases.includes(o.backupId ?? '')) {
    problems.push(`datakeep restored from ${o.backupId ?? '(it did not say)'}, not from the newest backup consistent before the target (${o.target.expectedBase})`);
  }
  if (o.archivesIntoSource) problems.push("the restored server is configured to archive into its source's repository");
  if (o.foreignWal.length > 0) problems.push(`the source's WAL archive holds files of another timeline: ${o.foreignWal.join(' ')} (new while this restore ran, alongside the other process's restores: ${o.foreignWalNew.join(' ') || 'none'})`);
  if (o.walListError !== undefined) problems.push(o.walListError);
  return problems;
}

/** The failure text for an outcome, naming the target, the form and what came back. */
export function describeOutcome(o: RestoreOutcome): string {
  const t = o.target;
  const lines = [
    `target #${t.index} ${t.form}${t.cliText ? ` (${t.cliText})` : ''} ${JSON.stringify(t.value)} = ${wallTime(t.targetUs, 0, { zone: 'Z' })}, ${t.kind}; TZ=${o.tz}, seed ${seedOf()}`,
    ...outcomeProblems(o).map((p) => `  PROBLEM: ${p}`),
    `  strictly between the commits of rows ${t.after} and ${t.after + 1} (${wallTime(t.gapUs[0], 0, { zone: 'Z' })} .. ${wallTime(t.gapUs[1], 0, { zone: 'Z' })})`,
    `  expected ${summarizeRows(t.expected)}; got ${summarizeRows(o.got)}`,
    `  ${t.requestBackupId ? `asked for backup ${t.requestBackupId}; ` : ''}base expected ${t.expectedBase}; datakeep used ${o.backupId ?? '(unknown)'}; ${o.seconds.toFixed(1)} s`,
  ];
  if (o.archiver) lines.push(`  restored server: ${o.archiver}`);
  if (o.error) {
    // The product's error carries the server log already; keep its first lines and the log's last ones.
    const [head, log] = o.error.split('--- server log ---');
    lines.push(`  error: ${head!.trim().split('\n').slice(0, 6).join('\n    ')}`);
    if (log === undefined && o.logTail) lines.push(`  restored server log (tail):\n    ${o.logTail.trim().split('\n').slice(-12).join('\n    ')}`);
    else if (log !== undefined) lines.push(`  restored server log (tail):\n    ${log.trim().split('\n').slice(-12).join('\n    ')}`);
  } else if (o.logTail && o.got !== null && !isDeepStrictEqual(o.got, t.expected)) {
    lines.push(`  restored server log (tail):\n    ${o.logTail.trim().split('\n').slice(-12).join('\n    ')}`);
  }
  return lines.join('\n');
}

let currentSeed: number | undefined;
function seedOf(): string {
  return currentSeed === undefined ? '?' : String(currentSeed);
}
export function setSeed(seed: number): void {
  currentSeed = seed;
}

/** Bound on one restore, in process (restoreBackup) and through the CLI. */
export const RESTORE_TIMEOUT_MS = 180_000;

/** `promise`, or a rejection after `ms` (the work itself goes on; the caller cleans up after it). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// Child-process mode: restore the spec's targets in this process (whose TZ the parent chose), print the outcomes.

export interface ChildSpec {
  readonly context: RestoreContext;
  readonly targets: readonly PlannedTarget[];
  /** Restores at a time in the child. */
  readonly concurrency: number;
}

export const RESULT_MARKER = 'PITR-RESULT ';

async function childMain(specFile: string): Promise<void> {
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as ChildSpec;
  setSeed(spec.context.seed);
  process.env.DATAKEEP_REPO_PASSPHRASE_FILE = spec.context.passphraseFile;
  const dm = new DataManager({
    config: { databases: [spec.context.database], state: { url: spec.context.stateUrl }, logLevel: 'error', backups: { destination: spec.context.destination } },
  });
  const outcomes: RestoreOutcome[] = [];
  try {
    await dm.initialize();
    outcomes.push(...await restoreAll(dm, spec.context, spec.targets, spec.concurrency, (outcome) => {
      process.stderr.write(`pitr child (TZ=${process.env.TZ ?? '(unset)'}): ${progressLine(outcome)}\n`);
    }));
  } finally {
    await dm.close().catch(() => undefined);
    await stopRestoredServersUnder(spec.context.work, { onlyThisProcess: true });
  }
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ tz: process.env.TZ ?? '(unset)', offsetMinutes: new Date().getTimezoneOffset(), outcomes })}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const specFile = process.argv[2];
  if (!specFile) {
    process.stderr.write('usage: node --import tsx test/support/pitr-writer.ts SPEC.json\n');
    process.exitCode = 2;
  } else {
    childMain(specFile).then(
      () => {
        process.exitCode = 0;
      },
      (error: unknown) => {
        process.stderr.write(`pitr child failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exitCode = 1;
      },
    );
  }
}
