// MariaDB physical backups side by side on one throwaway server: datakeep (mariadb-backup --stream=mbstream piped into
// the repository: content-defined chunks, zstd 3, AES-GCM, plus the binlog archived from the backup's position),
// plain `mariadb-backup --backup --stream=mbstream > file` (no compression, no encryption), and the same piped through
// `zstd -3 -T2`, in rotating rounds. datakeep's first full writes every chunk; later fulls of an unchanged server
// store almost nothing (deduplication), so both are shown.
// Run (as root; needs mariadb-backup): node --import tsx bench/mariadb-backup.ts [--rows=2000000] [--rounds=3]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupMariadb } from '../src/engines/mariadb/backup/index.js';
import { initRepository } from '../src/repository/index.js';
import { ThrowawayMariadb } from '../test/support/throwaway-mariadb.js';
import { BenchOptions } from './support/bench-options.js';
import { formatDuration, formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';

const options = new BenchOptions();
const rows = options.int({ flag: 'rows', env: 'DK_BENCH_ROWS', default: 2_000_000, help: 'rows of the bench table (about 110 bytes each)' });
const rounds = options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 3, help: 'alternating rounds of each side' });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}
options.assertNoUnknownFlags();

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const server = await ThrowawayMariadb.start('bench-mariabk', ['innodb_buffer_pool_size=256M']);
const work = mkdtempSync(join(tmpdir(), 'dk-bench-mariabk-'));
try {
  const c = await server.connect();
  await c.query('CREATE DATABASE bench');
  await c.query('CREATE TABLE bench.t (id INT PRIMARY KEY, a INT, note VARCHAR(100), at DATETIME) ENGINE=InnoDB');
  for (let done = 0; done < rows; done += 200_000) {
    await c.query(`INSERT INTO bench.t SELECT seq, seq * 7 % 1000, MD5(seq), NOW() - INTERVAL seq SECOND FROM bench.seq_${done + 1}_to_${Math.min(rows, done + 200_000)}`);
  }
  // The load is in the current binlog file, which datakeep's first backup would archive too (from byte 0: a replay
  // needs the file's start). Rotated here, so that the sides compare backup against backup.
  await c.query('FLUSH BINARY LOGS');
  await c.end();
  const access = { host: '127.0.0.1', port: server.port, user: 'root', password: undefined };
  const repository = await initRepository(join(work, 'repo'), { passphrase: 'bench passphrase 123', compression: 'zstd', workers: 2 });
  const times = { datakeep: [] as number[], plain: [] as number[], zstd: [] as number[] };
  const stored: number[] = [];
  const sizes = { plain: 0, zstd: 0, stream: 0 };
  const order = ['plain', 'zstd', 'datakeep'] as const;
  for (let round = 0; round < rounds; round++) {
    // Rotated each round, so that no side always runs first (or last) on a warm page cache.
    for (const side of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
      const started = performance.now();
      if (side === 'datakeep') {
        const result = await backupMariadb({ access, repository, database: 'bench', type: 'full' });
        stored.push(result.storedBytes);
        sizes.stream = result.sizeBytes;
      } else {
        const file = join(work, 'plain.mbstream');
        const backup = `mariadb-backup --backup --stream=mbstream --host=127.0.0.1 --port=${server.port} --user=root --datadir=${server.dataDir} --target-dir=${work} 2>/dev/null`;
        const command = side === 'plain' ? `${backup} > ${file}` : `${backup} | zstd -3 -T2 -q > ${file}`;
        const child = spawn('bash', ['-o', 'pipefail', '-c', command], { stdio: 'ignore' });
        if ((await new Promise<number | null>((resolve) => child.once('close', resolve))) !== 0) throw new Error(`${command} failed`);
        sizes[side] = statSync(file).size;
        rmSync(file);
      }
      times[side].push(performance.now() - started);
    }
  }
  await repository.close();
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const warm = times.datakeep.slice(1);
  console.log(formatTable(['side', 'full backup (median)', 'each', 'stored'], [
    ['mariadb-backup --stream=mbstream > file', formatDuration(median(times.plain)), times.plain.map(formatDuration).join(', '), mib(sizes.plain)],
    ['mariadb-backup --stream=mbstream | zstd -3 -T2 > file', formatDuration(median(times.zstd)), times.zstd.map(formatDuration).join(', '), mib(sizes.zstd)],
    ['datakeep, first full (empty repository)', formatDuration(times.datakeep[0]!), formatDuration(times.datakeep[0]!), mib(stored[0]!)],
    ['datakeep, later fulls (deduplicated)', warm.length ? formatDuration(median(warm)) : '-', warm.map(formatDuration).join(', '), stored.slice(1).map(mib).join(', ')],
  ], { markdown: true }));
  console.log(`\nstream ${mib(sizes.stream)}, ${rows} rows; ratios (time, datakeep/peer): first full vs plain ${formatRatio(times.datakeep[0]! / median(times.plain))}, vs zstd ${formatRatio(times.datakeep[0]! / median(times.zstd))}; later fulls vs plain ${warm.length ? formatRatio(median(warm) / median(times.plain)) : '-'}, vs zstd ${warm.length ? formatRatio(median(warm) / median(times.zstd)) : '-'}; stored (first) vs zstd file ${formatRatio(stored[0]! / sizes.zstd)}`);
  console.log(machineNote());
} finally {
  await server.destroy();
  rmSync(work, { recursive: true, force: true });
}
