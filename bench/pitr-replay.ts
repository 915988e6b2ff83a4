// Point-in-time recovery replaying K archived WAL segments through datakeep's restore_command, with WAL prefetching
// off (`wal get` started by PostgreSQL once per segment) and on (the spool's shell fast path, a background prefetcher
// fetching ahead: pgBackRest's asynchronous archive-get, which is not installed here to compare with).
// Run (as root, after `npm run build`): node --import tsx bench/pitr-replay.ts [--segments=30] [--rows=40000] [--queue=8] [--rounds=2]
// One throwaway cluster archives through `datakeep wal push` (the compiled CLI, as an installed datakeep runs); after a
// full backup it writes K segments (each `--rows` rows of ~230 bytes, then pg_switch_wal). Each restore writes the
// same data directory (not timed), then the timed part: pg_ctl start until the server has replayed to the restore
// point after the last segment and promoted. Off and on alternate, each first in every other round.
import { existsSync } from 'node:fs';
import { backupPostgres, restorePostgres, startRestoredCluster } from '../src/engines/postgres/backup/index.js';
import { walGetCommand } from '../src/engines/postgres/backup/wal-commands-for-server.js';
import { COMPILED_CLI_ENV } from '../src/util/datakeep-command-line.js';
import { startArchivingPostgres } from '../test/support/archiving-postgres.js';
import { alternatingRounds } from './support/alternating-rounds.js';
import { BenchOptions } from './support/bench-options.js';
import { formatDuration, formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';
import { startMeasurement, type Measurement } from './support/measurement.js';
import { median } from './support/stats.js';

const options = new BenchOptions();
const segments = options.int({ flag: 'segments', env: 'DK_BENCH_SEGMENTS', default: 30, help: 'archived WAL segments recovery replays' });
const rows = options.int({ flag: 'rows', env: 'DK_BENCH_ROWS', default: 40_000, help: 'rows written per segment (40000: about 13 MiB of WAL)' });
const queue = options.int({ flag: 'queue', env: 'DK_BENCH_QUEUE', default: 8, help: 'segments fetched ahead with prefetching on' });
const rounds = options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 2, help: 'restores per side, alternating' });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}
options.assertNoUnknownFlags();
if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) throw new Error('dist/ is missing: run "npm run build" first (the server runs the compiled CLI)');
// The server's archive_command and restore_command run the compiled CLI, as an installed datakeep does.
process.env[COMPILED_CLI_ENV] = '1';

const env = await startArchivingPostgres('bench-pitr-replay', { config: ['max_wal_size = 1GB', 'checkpoint_timeout = 30min'] });
try {
  await env.cluster.query('CREATE TABLE t (segment int NOT NULL, payload text)');
  const full = await backupPostgres({
    connection: { host: env.cluster.host, port: env.cluster.port, user: 'postgres', database: 'postgres' },
    dataDirectory: env.cluster.dataDir, repository: env.repository, type: 'full', database: 'bench',
  });
  const written = startMeasurement();
  for (let segment = 1; segment <= segments; segment += 1) {
    await env.cluster.query(`INSERT INTO t SELECT ${segment}, repeat(md5(g::text), 7) FROM generate_series(1, ${rows}) g`);
    if (segment === segments) await env.cluster.query("SELECT pg_create_restore_point('bench-end')");
    await env.switchAndArchive();
  }
  console.log(`archive: ${segments} segments of ${rows} rows written and archived in ${formatDuration(written(segments).elapsedMs)}`);
  console.log(machineNote([`queue ${queue}`]));

  let restoreNo = 0;
  const replay = async (walPrefetch: number): Promise<Measurement> => {
    restoreNo += 1;
    const to = env.restoreDir(`replay-${restoreNo}-${walPrefetch}`);
    const port = await env.freePort();
    await restorePostgres({
      repository: env.repository, backupId: full.backupId, to, target: { name: 'bench-end' }, walPrefetch, verifyWal: false, port,
      restoreCommand: ({ prefetch }) => walGetCommand(env.repositoryPath, env.passphraseFile, prefetch),
    });
    const measure = startMeasurement();
    await startRestoredCluster({ dataDirectory: to, port, timeoutMs: 1_800_000 });
    const result = measure(segments);
    const [count] = await env.queryRestored<{ n: number }>(port, 'SELECT count(DISTINCT segment)::int AS n FROM t');
    if (count?.n !== segments) throw new Error(`the restored server holds ${String(count?.n)} segments' rows, not ${segments}`);
    await env.stopRestored(to);
    return result;
  };
  const results = await alternatingRounds({
    rounds,
    a: { name: 'off', run: () => replay(0) },
    b: { name: 'on', run: () => replay(queue) },
    onRound: (r) => console.log(`round ${r.round} (${r.first === 'a' ? 'off' : 'on'} first): off ${formatDuration(r.a.elapsedMs)}, on ${formatDuration(r.b.elapsedMs)}`),
  });
  const off = median(results.map((r) => r.a.elapsedMs));
  const on = median(results.map((r) => r.b.elapsedMs));
  console.log(`\nbench/pitr-replay: recovery through ${segments} archived segments (start to promotion), median of ${rounds}`);
  console.log(formatTable(['figure', 'prefetch off', `prefetch on (${queue})`, 'on/off'], [
    ['replay time', formatDuration(off), formatDuration(on), formatRatio(on / off)],
    ['per segment', formatDuration(off / segments), formatDuration(on / segments), formatRatio(on / off)],
  ]));
} finally {
  await env.destroy();
}
