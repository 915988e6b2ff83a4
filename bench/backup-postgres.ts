// PostgreSQL physical backups side by side: datakeep, pgBackRest (Debian package `pgbackrest`: zst level 3, 2
// processes) and `pg_basebackup -Ft -z`, on one throwaway cluster filled with `pgbench -i -s SCALE`.
// Run (as root; needs pgbackrest): node --import tsx bench/backup-postgres.ts [--scale=100] [--workers=2]
// Figures: full backup time and stored size, incremental time and stored size after `pgbench -c 4 -j 2 -t 2000`,
// restore time of full + incremental (files only, as pgBackRest's restore). Each tool archives WAL through its own
// archive_command while its backups run (switched with ALTER SYSTEM + reload), so neither waits on the other's push.
// Both tools back up the same state: after the load, one VACUUM and CHECKPOINT settle hint bits, the visibility map
// and dirty buffers, and nothing writes between the two full backups. Stored sizes count backup data (pgBackRest's
// backup/, datakeep's chunks/ and backups/) apart from archived WAL (archive/, wal/: what each tool's archive_command
// stored while its backups ran); symbolic links (pgBackRest's backup/<stanza>/latest) are not followed.
// datakeep's archive_command runs the compiled WAL command (an esbuild bundle, as an installed CLI runs compiled JS).
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { backupPostgres, restorePostgres } from '../src/engines/postgres/backup/index.js';
import { initRepository, openRepository } from '../src/repository/index.js';
import { ThrowawayPostgres } from '../test/support/throwaway-postgres.js';
import { BenchOptions } from './support/bench-options.js';
import { formatTable } from './support/format-table.js';
import { formatDuration, formatRatio } from './support/format-figures.js';
import { machineNote } from './support/machine-note.js';

const execFileAsync = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const options = new BenchOptions();
const scale = options.int({ flag: 'scale', env: 'DK_BENCH_SCALE', default: 100, help: 'pgbench scale (100 is about 1.5 GB)' });
const workers = options.int({ flag: 'workers', env: 'DK_BENCH_WORKERS', default: 2, help: 'processes/workers for every tool' });
const txCount = options.int({ flag: 'transactions', env: 'DK_BENCH_TRANSACTIONS', default: 2000, help: 'pgbench -t per client between full and incremental' });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}
options.assertNoUnknownFlags();

const { uid, gid } = postgresIds();
let startedAt = performance.now();
const cluster = new ThrowawayPostgres({
  name: 'bench-backup',
  config: ['wal_level = replica', 'archive_mode = on', "archive_command = '/bin/true'", 'max_wal_senders = 10', 'shared_buffers = 512MB', 'max_wal_size = 4GB'],
  timeoutMs: 120_000,
});

const timeIt = async <T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
};

try {
  await cluster.init();
  const work = cluster.ownedDir('bench');
  const sock = cluster.socketDir;
  await cluster.start();
  const pgbench = (args: string[]) => cluster.runAsPostgres('pgbench', ['-h', sock, '-p', String(cluster.port), ...args, 'postgres'], { timeoutMs: 3_600_000 });

  const fill = await timeIt(() => pgbench(['-i', '-s', String(scale), '-q']));
  // One settled state for both tools' full backups (pgbench -i vacuums before it builds the indexes).
  await cluster.query('VACUUM');
  await cluster.query('CHECKPOINT');
  const [db] = await cluster.query<{ size: string }>("SELECT pg_database_size('postgres') AS size");
  console.log(`cluster: pgbench scale ${scale}, database ${mib(Number(db!.size))} MiB, filled in ${formatDuration(fill.ms)}, then VACUUM + CHECKPOINT`);
  console.log(machineNote([`${workers} workers/processes`]));

  // pgBackRest, configured as in anchors/anchor-backup.sh.
  for (const d of ['br-repo', 'br-log', 'br-lock', 'br-restored', 'dk-restored']) mkdirSync(join(work, d), { mode: 0o700 });
  const brConf = join(work, 'pgbackrest.conf');
  writeFileSync(brConf, [
    '[global]', `repo1-path=${join(work, 'br-repo')}`, `log-path=${join(work, 'br-log')}`, `lock-path=${join(work, 'br-lock')}`,
    'compress-type=zst', 'compress-level=3', `process-max=${workers}`, 'start-fast=y', 'log-level-console=warn',
    '[bench]', `pg1-path=${cluster.dataDir}`, `pg1-port=${cluster.port}`, `pg1-socket-path=${sock}`, '',
  ].join('\n'));
  chownTree(work, uid, gid);
  const br = (args: string[]) => execFileAsync('runuser', ['-u', 'postgres', '--', 'pgbackrest', `--config=${brConf}`, '--stanza=bench', ...args], { cwd: work, maxBuffer: 64 << 20 });
  await br(['stanza-create']);
  const brArchive = `pgbackrest --config=${brConf} --stanza=bench archive-push %p`;

  // datakeep: a repository with the same compression, and the WAL command compiled as an installed CLI would be.
  const dkRepo = join(work, 'dk-repo');
  const passphrase = 'bench passphrase';
  const keyFile = join(work, 'dk-key');
  writeFileSync(keyFile, `${passphrase}\n`, { mode: 0o600 });
  await (await initRepository(dkRepo, { passphrase, compression: 'zstd', compressionLevel: 3, workers })).close();
  chownTree(work, uid, gid);
  const walBundle = await bundleWalCommand();
  const dkArchive = `${process.execPath} ${walBundle} push %p --repo ${dkRepo} --passphrase-file ${keyFile}`;
  const repository = await openRepository(dkRepo, { passphrase, workers });
  // Its chunk workers start at first use; started here, outside the timings (as opening did before): under tsx a worker
  // spends a few hundred ms compiling its sources, which the built package does not.
  await (repository as { warmUp?: () => Promise<void> }).warmUp?.();

  const useArchive = async (command: string) => {
    await cluster.query(`ALTER SYSTEM SET archive_command = '${command.replace(/'/g, "''")}'`);
    await cluster.query('SELECT pg_reload_conf()');
    // Let the archiver pick the new command and drain what is pending, so a tool never waits on the other's backlog.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await waitArchiverIdle(cluster);
  };
  const dkSize = () => duBytes(join(dkRepo, 'chunks')) + duBytes(join(dkRepo, 'backups'));
  const brSize = () => duBytes(join(work, 'br-repo', 'backup'));
  const dkWal = () => duBytes(join(dkRepo, 'wal'));
  const brWal = () => duBytes(join(work, 'br-repo', 'archive'));
  /** Runs one backup with the tool's archive_command on: what was pending is archived by the previous command first,
   * so the WAL counted is what the tool archived while its backup ran. */
  const withArchive = async <T>(command: string, walSize: () => number, run: () => Promise<T>): Promise<{ result: T; walBytes: number }> => {
    // The segment in progress holds WAL of what ran before (the load, pgbench): it is switched out and archived by the
    // command then in place, so this tool's figure is only its own backup's WAL.
    await cluster.query('SELECT pg_switch_wal()');
    await waitArchiverIdle(cluster);
    await useArchive(command);
    const before = walSize();
    // Dirty pages (the cluster runs with fsync = off) are written back now, not during this tool's backup.
    execFileSync('sync');
    const result = await run();
    return { result, walBytes: walSize() - before };
  };
  const dkBackup = (type: 'full' | 'incremental') => (startedAt = performance.now(), backupPostgres({
    connection: { host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'postgres' },
    dataDirectory: cluster.dataDir, repository, type, database: 'bench', workers,
    onProgress: phaseTimer(`datakeep ${type}`),
  }));

  // Full backups, of the same settled state.
  const brFullRun = await withArchive(brArchive, brWal, () => timeIt(() => br(['--type=full', 'backup'])));
  const brFull = brFullRun.result;
  const brFullSize = brSize();
  const dkFullRun = await withArchive(dkArchive, dkWal, () => timeIt(() => dkBackup('full')));
  const dkFull = dkFullRun.result;
  const dkFullSize = dkSize();
  console.log(`full: pgBackRest ${formatDuration(brFull.ms)} ${mib(brFullSize)} MiB (+ WAL ${kib(brFullRun.walBytes)}); datakeep ${formatDuration(dkFull.ms)} ${mib(dkFullSize)} MiB (+ WAL ${kib(dkFullRun.walBytes)})`);

  // Changes, then incrementals.
  await pgbench(['-c', '4', '-j', '2', '-t', String(txCount), '-n']);
  const brIncrRun = await withArchive(brArchive, brWal, () => timeIt(() => br(['--type=incr', 'backup'])));
  const brIncr = brIncrRun.result;
  const brIncrSize = brSize() - brFullSize;
  const dkIncrRun = await withArchive(dkArchive, dkWal, () => timeIt(() => dkBackup('incremental')));
  const dkIncr = dkIncrRun.result;
  const dkIncrSize = dkSize() - dkFullSize;
  console.log(`incremental: pgBackRest ${formatDuration(brIncr.ms)} ${mib(brIncrSize)} MiB (+ WAL ${kib(brIncrRun.walBytes)}); datakeep ${formatDuration(dkIncr.ms)} ${mib(dkIncrSize)} MiB (+ WAL ${kib(dkIncrRun.walBytes)}) (${Number(dkIncr.value.manifest.metadata.filesReused)} files reused)`);

  // Restores of full + incremental, files only, in two rounds that alternate which tool goes first (the best of each is
  // reported: on a shared 2-core machine a single run mostly measures the neighbours). Before each, every earlier
  // output is removed and dirty pages are flushed (sync), so no restore pays for writing back another's output.
  const brTarget = join(work, 'br-restored');
  const dkTarget = join(work, 'dk-restored');
  const clear = (dir: string) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, gid);
  };
  const settle = () => {
    clear(brTarget);
    rmSync(dkTarget, { recursive: true, force: true });
    execFileSync('sync');
  };
  const runs = { br: [] as number[], dk: [] as number[], dkVerified: [] as number[] };
  const restoreBr = async () => {
    settle();
    runs.br.push((await timeIt(() => br([`--pg1-path=${brTarget}`, '--type=immediate', '--target-action=promote', 'restore']))).ms);
  };
  const restoreDk = async () => {
    settle();
    runs.dk.push((await timeIt(() => restorePostgres({ repository, backupId: dkIncr.value.backupId, to: dkTarget, restoreCommand: 'false', workers, verifyFirst: false, verifyWal: false }))).ms);
    settle();
    runs.dkVerified.push((await timeIt(() => restorePostgres({ repository, backupId: dkIncr.value.backupId, to: dkTarget, restoreCommand: 'false', workers }))).ms);
  };
  for (let round = 0; round < 2; round += 1) {
    for (const restore of round % 2 === 0 ? [restoreBr, restoreDk] : [restoreDk, restoreBr]) await restore();
  }
  settle();
  const brRestore = { ms: Math.min(...runs.br) };
  const dkRestore = { ms: Math.min(...runs.dk) };
  const dkRestoreVerified = { ms: Math.min(...runs.dkVerified) };
  console.log(`restore runs: pgBackRest ${runs.br.map(formatDuration).join(', ')}; datakeep ${runs.dk.map(formatDuration).join(', ')}; datakeep verify first ${runs.dkVerified.map(formatDuration).join(', ')}`);

  // pg_basebackup, the baseline every PostgreSQL user has.
  const bbDir = join(work, 'bb');
  const bb = await timeIt(() => cluster.runAsPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-Ft', '-z', '-X', 'fetch', '-D', bbDir, '-c', 'fast'], { timeoutMs: 3_600_000 }));
  const bbSize = duBytes(bbDir);
  await repository.close();

  const row = (name: string, dk: number, br: number, bbValue: string, fmt: (n: number) => string) => [name, fmt(dk), fmt(br), formatRatio(dk / br), bbValue];
  console.log(`\nbench/backup-postgres: pgbench -i -s ${scale}, ${workers} processes, zst level 3; incremental after pgbench -c 4 -j 2 -t ${txCount}`);
  console.log(formatTable(['figure', 'datakeep', 'pgBackRest', 'datakeep/pgBackRest', 'pg_basebackup -Ft -z'], [
    row('full backup time', dkFull.ms, brFull.ms, formatDuration(bb.ms), formatDuration),
    row('full stored (backup data)', dkFullSize, brFullSize, `${mib(bbSize)} MiB`, (n) => `${mib(n)} MiB`),
    row('full: WAL archived meanwhile', dkFullRun.walBytes, brFullRun.walBytes, '-', kib),
    row('incremental time', dkIncr.ms, brIncr.ms, '-', formatDuration),
    row('incremental stored (backup data)', dkIncrSize, brIncrSize, '-', (n) => `${mib(n)} MiB`),
    row('incremental: WAL archived meanwhile', dkIncrRun.walBytes, brIncrRun.walBytes, '-', kib),
    row('restore full+incr (files)', dkRestore.ms, brRestore.ms, '-', formatDuration),
    row('restore, verify first', dkRestoreVerified.ms, brRestore.ms, '-', formatDuration),
  ], { markdown: true }));
} finally {
  await cluster.destroy();
}

/** Prints how long each phase of a datakeep backup took: where the time goes when datakeep is slower. */
function phaseTimer(label: string): (progress: { phase: string }) => void {
  let phase = '';
  let since = performance.now();
  return (progress) => {
    if (progress.phase === phase) return;
    const now = performance.now();
    process.stdout.write(`  ${label}: ${phase === '' ? 'preparing (facts, parent, fresh second)' : phase} ${formatDuration(now - (phase === '' ? startedAt : since))}\n`);
    phase = progress.phase;
    since = now;
  };
}
async function bundleWalCommand(): Promise<string> {
  const outDir = join(ROOT, 'node_modules', '.cache', 'datakeep-bench');
  mkdirSync(outDir, { recursive: true });
  const entry = join(outDir, 'wal-entry.ts');
  writeFileSync(entry, `import { runWalCommand } from '${join(ROOT, 'src/cli/run-wal-command.ts')}';\nprocess.exitCode = await runWalCommand(process.argv.slice(2));\n`);
  const out = join(outDir, 'wal-command.mjs');
  await execFileAsync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [entry, '--bundle', '--platform=node', '--format=esm', '--packages=external', `--outfile=${out}`]);
  return out;
}

async function waitArchiverIdle(pgCluster: ThrowawayPostgres): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const [row] = await pgCluster.query<{ pending: string }>(
      "SELECT count(*) AS pending FROM pg_ls_dir('pg_wal/archive_status') f WHERE f LIKE '%.ready'");
    if (Number(row!.pending) === 0) return;
    if (Date.now() > deadline) throw new Error(`archiver still has ${row!.pending} segments pending after 10 minutes\n${pgCluster.logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Bytes of the files under a path, as `du -sb` counts them: a symbolic link is not followed (pgBackRest's
 * backup/<stanza>/latest points at the newest backup, which would otherwise be counted twice). */
function duBytes(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    const info = lstatSync(p, { throwIfNoEntry: false });
    if (!info) return;
    if (info.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else total += info.size;
  };
  walk(path);
  return total;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

/** Archived WAL is small (segments switched out nearly empty compress to kilobytes). */
function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

function chownTree(path: string, owner: number, group: number): void {
  chownSync(path, owner, group);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), owner, group);
}

function postgresIds(): { uid: number; gid: number } {
  const [, , u, g] = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(u), gid: Number(g) };
}
