import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import type pg from 'pg';
import type { Repository } from '../../../repository/repository-types.js';
import { UsageError } from '../../../errors/index.js';
import { parseBackupLabel } from './backup-label.js';
import { checkArchiving } from './check-archiving.js';
import { completePostgresBackup } from './complete-postgres-backup.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import type { PostgresBackupProgress, PostgresBackupResult } from './postgres-backup-result.js';
import { type BackupSession, withBackupSession } from './postgres-session.js';
import { readTar } from './read-tar.js';
import { readServerFacts } from './server-facts.js';
import { parseLsn, segmentName, segmentOf } from './wal-position.js';

export interface PostgresStreamBackupOptions {
  /** Where the server listens; the role needs the REPLICATION attribute and a `replication` line in pg_hba.conf. */
  host: string;
  port: number;
  user: string;
  /** Passed to pg_basebackup through PGPASSWORD, never on its command line. */
  password?: string;
  repository: Repository;
  database: string;
  /** pg_basebackup to run; default: the one of the server's major version under /usr/lib/postgresql, else PATH. */
  pgBasebackup?: string;
  /**
   * How long to wait for the archiver (default 120 s): for the segment the archive check switches before pg_basebackup
   * starts, for pg_basebackup's own wait in pg_backup_stop once the data is sent, and for the backup's WAL at the end.
   */
  walTimeoutMs?: number;
  /** Longest silence of pg_basebackup before all the data is sent (its start checkpoint, a stalled link; default 10 min). */
  stallTimeoutMs?: number;
  /** Bound on the whole pg_basebackup run (default 24 h). */
  timeoutMs?: number;
  onProgress?: (progress: PostgresBackupProgress) => void;
  signal?: AbortSignal;
}

/** pg_basebackup -P lines ("23166/23166 kB (100%), 0/1 tablespace ..."): the running total is the server's estimate. */
const PROGRESS_LINE = /^\s*(\d+)\/(\d+) kB \(\d+%\)/;
/** How long pg_basebackup gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5000;

/**
 * A full backup over the replication protocol, for servers whose data directory this host cannot read: pg_basebackup
 * streams a tar of the data directory to stdout (`-D - -Ft -X none`), and each entry goes straight into the
 * repository (no temporary copy, no whole file in memory). The WAL comes from the archive as for any backup: the
 * backup completes only once every segment from start to stop is in the repository. A server with extra tablespaces
 * cannot stream to stdout (pg_basebackup's rule); back it up from its host with backupPostgres.
 *
 * With `-X none` the server's pg_backup_stop waits for the archiver without any limit (pg_basebackup 15 has no option
 * to skip that wait), so archiving is checked before pg_basebackup starts (checkArchiving), and pg_basebackup is
 * killed when that wait passes walTimeoutMs, when it stays silent for stallTimeoutMs while sending the data, or when
 * it runs past timeoutMs; its walsender, which would go on waiting on the server, is terminated too.
 */
export async function backupPostgresStream(options: PostgresStreamBackupOptions): Promise<PostgresBackupResult> {
  // Bounded, so that cleanup and checks against a frozen server end too.
  const connection = { host: options.host, port: options.port, user: options.user, password: options.password, database: 'postgres', connectionTimeoutMillis: 30_000, query_timeout: 60_000 };
  const walTimeoutMs = options.walTimeoutMs ?? 120_000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 600_000;
  const totalTimeoutMs = options.timeoutMs ?? 24 * 3600_000;
  const facts = await withBackupSession(connection, readServerFacts);
  if (facts.archiveMode === 'off') {
    throw new PostgresBackupError('backup-failed', `the server has archive_mode = off, so the backup's WAL would never reach the repository; set archive_mode = on and archive_command = 'datakeep wal push %p' (restart needed)`);
  }
  const binary = options.pgBasebackup ?? defaultPgBasebackup(facts.versionNum);
  const writer = await options.repository.beginBackup({ type: 'full', database: options.database });
  const appName = `datakeep backup ${writer.backupId}`;
  const counters = { filesTotal: 0, filesDone: 0, filesReused: 0, bytesTotal: 0, bytesDone: 0, bytesStored: 0 };
  const report = (update: Partial<PostgresBackupProgress> & Pick<PostgresBackupProgress, 'phase'>) => {
    try {
      options.onProgress?.({ backupId: writer.backupId, ...counters, ...update });
    } catch {
      // A progress display must never break a backup.
    }
  };
  const state: { run?: BasebackupRun } = {};
  try {
    report({ phase: 'checking-archive' });
    await withBackupSession(connection, (session) => checkArchiving(session, options.repository, {
      timeoutMs: walTimeoutMs, signal: options.signal, onWait: (walWaiting) => report({ phase: 'checking-archive', walWaiting }),
    }));
    report({ phase: 'starting' });
    const env: NodeJS.ProcessEnv = { ...process.env, PGAPPNAME: appName };
    if (options.password !== undefined) env.PGPASSWORD = options.password;
    else delete env.PGPASSWORD;
    let labelFile: string | undefined;
    let tablespaceMap = '';
    let backupManifest: string | undefined;
    const directories: { path: string; mode: number }[] = [];
    // A session of its own watches the walsender: pg_basebackup's output is block-buffered, so its silence does not
    // tell the server's wait in pg_backup_stop from a stalled transfer, but pg_stat_progress_basebackup does.
    const run = await withBackupSession(connection, async (monitor) => {
      const run = startBasebackup(binary, [
        '-h', options.host, '-p', String(options.port), '-U', options.user, '-w',
        '-D', '-', '-Ft', '-X', 'none', '-c', 'fast', '-v', '-P', '-l', appName,
      ], env, (estimateBytes) => {
        counters.bytesTotal = Math.max(counters.bytesTotal, estimateBytes);
      });
      state.run = run;
      const watchdog = watch(run, monitor, appName, {
        walTimeoutMs, stallTimeoutMs, totalTimeoutMs,
        onWaiting: (seconds) => void reportStopWait(options.repository, facts.walSegmentSize, labelFile, seconds, report),
      });
      try {
        const estimate = await serverEstimate(monitor, appName, run);
        if (estimate !== undefined) counters.bytesTotal = Math.max(counters.bytesTotal, estimate);
        for await (const entry of readTar(run.stdout)) {
          options.signal?.throwIfAborted();
          if (entry.type === 'directory') {
            directories.push({ path: entry.path, mode: entry.mode });
          } else if (entry.type === 'file') {
            // The label and the map belong to the manifest (restore writes them itself), as with pg_backup_stop.
            if (entry.path === 'backup_label') labelFile = await text(entry.body);
            else if (entry.path === 'tablespace_map') tablespaceMap = await text(entry.body);
            else if (entry.path === 'backup_manifest') backupManifest = await text(entry.body);
            else {
              const stored = await writer.addFile(entry.path, entry.body, { size: entry.size, mtimeMs: entry.mtimeMs, mode: entry.mode });
              counters.filesDone += 1;
              counters.filesTotal += 1;
              counters.bytesDone += stored.size;
              counters.bytesTotal = Math.max(counters.bytesTotal, counters.bytesDone);
              report({ phase: 'copying' });
            }
          }
        }
        const code = await run.exited;
        if (run.stopped) throw run.stopped;
        if (code !== 0) throw new PostgresBackupError('backup-failed', `pg_basebackup exited with code ${String(code)}: ${run.stderr().slice(-2000)}`);
      } finally {
        watchdog.clear();
      }
      return run;
    });
    if (labelFile === undefined) throw new PostgresBackupError('backup-failed', `pg_basebackup's tar stream had no backup_label; output: ${run.stderr().slice(-2000)}`);
    const stopLsn = stopLsnOf(backupManifest, run.stderr());
    const stopTime = (await withBackupSession(connection, (s) => s.query<{ now: Date }>('SELECT clock_timestamp() AS now')))[0]!.now;
    return await completePostgresBackup({
      repository: options.repository, writer, facts, labelFile, tablespaceMap, stopLsn,
      stopTime: new Date(stopTime).toISOString(), walTimeoutMs, progress: report,
      signal: options.signal,
      metadata: { method: 'pg_basebackup', server: `${options.host}:${options.port}`, directories, tablespaces: [], filesReused: 0, filesStored: counters.filesDone },
    });
  } catch (error) {
    const { run } = state;
    const failure = run?.stopped ?? error;
    let code: number | null | undefined;
    if (run) {
      code = await run.stop();
      await terminateWalsender(connection, appName);
    }
    await writer.abort().catch(() => undefined);
    if (failure instanceof PostgresBackupError || failure instanceof UsageError) throw failure;
    const said = run?.stderr() ?? '';
    throw new PostgresBackupError('backup-failed', `backup over the replication protocol failed: ${(failure as Error).message}` +
      (said ? `; pg_basebackup (exit ${String(code)}) said: ${said.slice(-2000)}` : ''), { cause: failure });
  }
}

interface BasebackupRun {
  /** The tar stream (pg_basebackup's stdout). */
  readonly stdout: Readable;
  readonly exited: Promise<number | null>;
  /** When the last stdout bytes arrived. */
  readonly lastOutputAt: () => number;
  readonly startedAt: number;
  /** pg_basebackup's messages (progress lines left out), trimmed. */
  readonly stderr: () => string;
  /** Set when the watchdog killed pg_basebackup: the error that says why. */
  stopped: PostgresBackupError | undefined;
  /** Ends pg_basebackup with `error` as the reason the tar stream fails. */
  kill(error: PostgresBackupError): void;
  /** SIGTERM, then SIGKILL after a grace; resolves with the exit code once it is gone. */
  stop(): Promise<number | null>;
}

function startBasebackup(binary: string, args: string[], env: NodeJS.ProcessEnv, onEstimate: (bytes: number) => void): BasebackupRun {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const startedAt = Date.now();
  let lastOutputAt = startedAt;
  let stderr = '';
  let partial = '';
  child.stderr.on('data', (data: Buffer) => {
    const lines = (partial + data.toString('utf8')).split(/[\r\n]/);
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const progress = PROGRESS_LINE.exec(line);
      if (progress) onEstimate(Number(progress[2]) * 1024);
      else if (line.trim() !== '') stderr = `${stderr}${line}\n`.slice(-16_000);
    }
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);
  const stdout = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      lastOutputAt = Date.now();
      callback(null, chunk);
    },
  });
  child.stdout.on('error', (error) => stdout.destroy(error));
  child.stdout.pipe(stdout);
  const run: BasebackupRun = {
    stdout,
    exited,
    startedAt,
    lastOutputAt: () => lastOutputAt,
    stderr: () => `${stderr}${partial}`.trim(),
    stopped: undefined,
    kill(error) {
      if (run.stopped) return;
      run.stopped = error;
      void run.stop();
      stdout.destroy(error);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const gone = await Promise.race([exited.then(() => true, () => true), sleep(KILL_GRACE_MS).then(() => false)]);
        if (!gone) child.kill('SIGKILL');
      }
      return Promise.race([exited.catch(() => null), sleep(KILL_GRACE_MS).then(() => null)]);
    },
  };
  return run;
}

/**
 * Bounds every wait of a pg_basebackup run: silence before the server's wait in pg_backup_stop, that wait (seen in
 * pg_stat_progress_basebackup, reported through onWaiting every second), and the whole run.
 */
function watch(run: BasebackupRun, monitor: BackupSession, appName: string, limits: { walTimeoutMs: number; stallTimeoutMs: number; totalTimeoutMs: number; onWaiting: (seconds: number) => void }): { clear(): void } {
  let waitingSince: number | undefined;
  let polling = false;
  let lastPoll = 0;
  let lastReport = 0;
  const poll = async () => {
    polling = true;
    try {
      const [row] = await monitor.query<{ phase: string | null; wait_event: string | null }>(
        `SELECT p.phase, a.wait_event FROM pg_stat_activity a LEFT JOIN pg_stat_progress_basebackup p ON p.pid = a.pid
          WHERE a.application_name = $1 AND a.backend_type = 'walsender'`, [appName]);
      if (row && (row.phase === 'waiting for wal archiving to finish' || row.wait_event === 'BackupWaitWalArchive')) waitingSince ??= Date.now();
    } catch {
      // Without the view, silence and the total limit still bound the run.
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => {
    if (run.stopped) return;
    const now = Date.now();
    if (now - run.startedAt > limits.totalTimeoutMs) {
      run.kill(new PostgresBackupError('backup-failed', `pg_basebackup ran past the backup's limit of ${limits.totalTimeoutMs} ms and was stopped; ${said(run)}`));
    } else if (waitingSince !== undefined && now - waitingSince > limits.walTimeoutMs) {
      run.kill(new PostgresBackupError('wal-missing',
        `the server's pg_backup_stop waited more than ${limits.walTimeoutMs} ms for the archiver to archive the backup's last WAL segment ` +
        `(pg_basebackup -X none waits for it without limit), so pg_basebackup was stopped: archive_command is failing or does not keep up; ` +
        `see the server log and pg_stat_archiver; ${said(run)}`));
    } else if (waitingSince === undefined && now - run.lastOutputAt() > limits.stallTimeoutMs) {
      run.kill(new PostgresBackupError('backup-failed', `pg_basebackup sent nothing for ${limits.stallTimeoutMs} ms (waiting for the server's checkpoint, or a stalled connection) and was stopped; ${said(run)}`));
    } else {
      if (waitingSince !== undefined && now - lastReport >= 1000) {
        lastReport = now;
        limits.onWaiting(Math.floor((now - waitingSince) / 1000));
      }
      if (!polling && now - lastPoll >= 500) {
        lastPoll = now;
        void poll();
      }
    }
  }, 250);
  return {
    clear() {
      clearInterval(timer);
    },
  };
}

/**
 * The server's estimate of the backup's size, read before the tar is: pg_basebackup -P prints it only with its first
 * progress message, a second into the transfer (after the whole of a small cluster), and a display wants a total from
 * the first file on. Holding the tar for this costs only the server's wait on a full pipe. Undefined after `limitMs`
 * (a slow start checkpoint) or when the server does not estimate.
 */
async function serverEstimate(monitor: BackupSession, appName: string, run: BasebackupRun, limitMs = 5000): Promise<number | undefined> {
  const deadline = Date.now() + limitMs;
  let exited = false;
  void run.exited.finally(() => (exited = true)).catch(() => undefined);
  while (!exited && Date.now() < deadline) {
    try {
      const [row] = await monitor.query<{ phase: string; total: string | null }>(
        `SELECT p.phase, p.backup_total::text AS total FROM pg_stat_progress_basebackup p JOIN pg_stat_activity a ON a.pid = p.pid
          WHERE a.application_name = $1`, [appName]);
      if (row?.total != null) return Number(row.total);
      if (row && row.phase !== 'initializing' && row.phase !== 'waiting for checkpoint to finish' && row.phase !== 'estimating backup size') return undefined;
    } catch {
      return undefined;
    }
    await sleep(50);
  }
  return undefined;
}

function said(run: BasebackupRun): string {
  const text = run.stderr();
  return text ? `pg_basebackup said: ${text.slice(-1500)}` : 'pg_basebackup said nothing';
}

/**
 * The wait in pg_backup_stop as progress: the stop LSN is not known before it returns, so `total` is the segments found
 * so far from the backup's start plus the one waited for.
 */
async function reportStopWait(repository: Repository, segmentSize: number, labelFile: string | undefined, seconds: number, report: (update: Partial<PostgresBackupProgress> & Pick<PostgresBackupProgress, 'phase'>) => void): Promise<void> {
  try {
    let segment = '';
    let archived = 0;
    if (labelFile !== undefined) {
      const label = parseBackupLabel(labelFile);
      const archive = new Set(await repository.listWal());
      let next = segmentOf(parseLsn(label.startLsn), segmentSize);
      while (archive.has(segmentName(label.timeline, next, segmentSize))) {
        archived += 1;
        next += 1n;
      }
      segment = segmentName(label.timeline, next, segmentSize);
    }
    report({ phase: 'waiting-for-wal', walWaiting: { segment, seconds, archived, total: archived + 1 } });
  } catch {
    // Progress only.
  }
}

/** The walsender of a killed pg_basebackup goes on waiting in pg_backup_stop (it never writes, so never notices). */
async function terminateWalsender(connection: pg.ClientConfig, appName: string): Promise<void> {
  await Promise.race([
    withBackupSession(connection, (s) => s.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [appName])),
    sleep(30_000),
  ]).catch(() => undefined);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The end of the backup's WAL range: from the backup_manifest's WAL-Ranges, else pg_basebackup's verbose output. */
function stopLsnOf(backupManifest: string | undefined, stderr: string): string {
  if (backupManifest !== undefined) {
    try {
      const ranges = (JSON.parse(backupManifest) as { 'WAL-Ranges'?: { 'End-LSN': string }[] })['WAL-Ranges'];
      const end = ranges?.at(-1)?.['End-LSN'];
      if (end) return end;
    } catch {
      // Fall through to the verbose output.
    }
  }
  const match = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/.exec(stderr);
  if (!match) throw new PostgresBackupError('backup-failed', `cannot tell where the backup's WAL ends: no backup manifest and no end point in pg_basebackup's output (${stderr.trim().slice(-500)})`);
  return match[1]!;
}

function defaultPgBasebackup(versionNum: number): string {
  const path = `/usr/lib/postgresql/${Math.floor(versionNum / 10000)}/bin/pg_basebackup`;
  return existsSync(path) ? path : 'pg_basebackup';
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

