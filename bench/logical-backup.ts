// PostgreSQL logical backups side by side with pg_dump -Fc and pg_restore -j 2 (shared/anchors/anchor-logical.sh), on
// one throwaway cluster filled with `pgbench -i -s SCALE`, in one run.
// Run (as root): node --import tsx bench/logical-backup.ts [--scale=100] [--workers=2] [--rounds=2]
// Figures: dump/backup time and size (pg_dump's file; datakeep's stored chunks: zstd at the repository default, encrypted), then restore
// time of everything into a new database (pg_restore -j 2 from the -Fc file; datakeep's restore with 2 sessions),
// and the ratios datakeep / peer (goal <= 1.0 on time). Both restores are checked to hold the same rows.
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDatabaseConfig } from '../src/config/resolve-database-config.js';
import { backupLogical } from '../src/engines/postgres/logical/backup-logical.js';
import { postgresClientConfig } from '../src/engines/postgres/logical/postgres-client-config.js';
import { openPostgresSnapshot } from '../src/engines/postgres/logical/postgres-logical-snapshot.js';
import { openPostgresTarget } from '../src/engines/postgres/logical/postgres-logical-target.js';
import { restoreLogical } from '../src/engines/postgres/logical/restore-logical.js';
import { initRepository } from '../src/repository/index.js';
import { ThrowawayPostgres } from '../test/support/throwaway-postgres.js';
import { BenchOptions } from './support/bench-options.js';
import { formatDuration, formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { median } from './support/stats.js';
import { machineNote } from './support/machine-note.js';
import { warmRepository } from './support/warm-repository.js';

const options = new BenchOptions();
const scale = options.int({ flag: 'scale', env: 'DK_BENCH_SCALE', default: 100, help: 'pgbench scale (100 is about 1.5 GB)' });
const workers = options.int({ flag: 'workers', env: 'DK_BENCH_WORKERS', default: 2, help: 'parallel sessions of each restore (and of datakeep\'s backup)' });
const rounds = options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 2, help: 'rounds of dump and backup, alternating which goes first (medians; the last backup is restored)' });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}
options.assertNoUnknownFlags();

const cluster = new ThrowawayPostgres({ name: 'bench-logical', config: ['shared_buffers = 512MB', 'max_wal_size = 4GB'], timeoutMs: 120_000 });
const timeIt = async <T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
};
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
const treeSize = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? treeSize(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);

try {
  await cluster.init();
  await cluster.start();
  const work = cluster.ownedDir('bench');
  const sock = cluster.socketDir;
  const asPostgres = (tool: string, args: string[]) => cluster.runAsPostgres(tool, ['-h', sock, '-p', String(cluster.port), ...args], { timeoutMs: 3_600_000 });
  const fill = await timeIt(() => asPostgres('pgbench', ['-i', '-s', String(scale), '-q', 'postgres']));
  const [db] = await cluster.query<{ size: string }>("SELECT pg_database_size('postgres') AS size");
  console.log(`cluster: pgbench scale ${scale}, database ${mib(Number(db!.size))} MiB, filled in ${formatDuration(fill.ms)}`);
  console.log(machineNote([`${workers} restore sessions on both sides`]));

  const dumpFile = join(work, 'd.pgc');
  const config = resolveDatabaseConfig(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`, 'bench');
  const repoDir = join(work, 'dk-repo');
  const dumps: number[] = [];
  const backups: number[] = [];
  let repository: Awaited<ReturnType<typeof initRepository>> | undefined;
  let backupId = '';
  for (let round = 1; round <= rounds; round += 1) {
    for (const side of round % 2 === 1 ? ['pg_dump', 'datakeep'] : ['datakeep', 'pg_dump']) {
      if (side === 'pg_dump') {
        rmSync(dumpFile, { force: true });
        dumps.push((await timeIt(() => asPostgres('pg_dump', ['-Fc', '-f', dumpFile, 'postgres']))).ms);
      } else {
        // A fresh repository each round (nothing to deduplicate against), created and its workers loaded untimed.
        await repository?.close();
        rmSync(repoDir, { recursive: true, force: true });
        repository = await initRepository(repoDir, { passphrase: 'bench passphrase', compression: 'zstd', workers });
        await warmRepository(repository, workers);
        const open = repository;
        const backup = await timeIt(() => backupLogical({
          snapshot: () => openPostgresSnapshot(postgresClientConfig(config), workers), repository: open, database: 'postgres', engine: 'postgresql', tables: undefined,
        }));
        backups.push(backup.ms);
        backupId = backup.value.backupId;
      }
      console.log(`round ${round} ${side}: ${formatDuration((side === 'pg_dump' ? dumps : backups).at(-1)!)} (${machineNote().replace(/.*load avg/, 'load avg')})`);
    }
  }
  const dump = { ms: median(dumps) };
  const backup = { ms: median(backups) };
  const dumpSize = statSync(dumpFile).size;
  const stored = treeSize(join(repoDir, 'chunks'));
  if (repository === undefined) throw new Error('--rounds must be at least 1');

  await cluster.query('CREATE DATABASE r_peer');
  const peerRestore = await timeIt(() => asPostgres('pg_restore', ['-j', String(workers), '-d', 'r_peer', dumpFile]));
  const target = resolveDatabaseConfig(`postgres://postgres@127.0.0.1:${cluster.port}/r_datakeep`, 'bench');
  const dkRestore = await timeIt(() => restoreLogical({ repository: repository!, backupId, openTarget: () => openPostgresTarget(target, workers), tables: undefined }));
  await repository.close();

  for (const table of ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers']) {
    const sum = async (database: string) => (await cluster.query<{ f: string }>(`SELECT count(*) || ':' || sum(abalance_like) AS f FROM (SELECT ${table === 'pgbench_accounts' ? 'abalance' : table === 'pgbench_branches' ? 'bbalance' : 'tbalance'} AS abalance_like FROM ${table}) t`, [], database))[0]!.f;
    const [peer, ours] = [await sum('r_peer'), await sum('r_datakeep')];
    if (peer !== ours) throw new Error(`${table}: pg_restore gave ${peer}, datakeep ${ours}`);
  }
  const [indexes] = await cluster.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_indexes WHERE schemaname = 'public'", [], 'r_datakeep');

  console.log(formatTable(['step', 'peer', 'datakeep', 'ratio (datakeep / peer)'], [
    ['dump / backup time (median)', `${formatDuration(dump.ms)} (pg_dump -Fc)`, formatDuration(backup.ms), formatRatio(backup.ms / dump.ms)],
    ['size', `${mib(dumpSize)} MiB (gzip)`, `${mib(stored)} MiB (zstd, encrypted)`, formatRatio(stored / dumpSize)],
    ['restore time', `${formatDuration(peerRestore.ms)} (pg_restore -j ${workers})`, `${formatDuration(dkRestore.ms)} (${workers} sessions)`, formatRatio(dkRestore.ms / peerRestore.ms)],
    ['dump + restore', formatDuration(dump.ms + peerRestore.ms), formatDuration(backup.ms + dkRestore.ms), formatRatio((backup.ms + dkRestore.ms) / (dump.ms + peerRestore.ms))],
  ]));
  console.log(`both restores hold the same rows; datakeep's has ${indexes!.n} index(es) in public`);
} finally {
  await cluster.destroy();
}
