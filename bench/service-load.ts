/**
 * Issue 13: the service under read load while it takes a backup. One throwaway PostgreSQL cluster (archiving into
 * datakeep's repository) and one `datakeep serve` process; each round takes a full backup through the API twice, once
 * with the service otherwise idle and once while the benchmark keeps CONCURRENCY requests in flight to /metrics,
 * /api/v1/health, /livez and /readyz (cycling) from a separate process at `--nice` until the backup's job is done. The backup's time is its job's
 * startedAt -> finishedAt, as the service recorded it. Sides alternate, first side swapped each round.
 *
 *   node --import tsx bench/service-load.ts [--rows=1000000] [--rounds=3] [--concurrency=200] [--nice=10]
 *
 * Goal (issue 13): no request fails, and the loaded backup takes at most 1.10 x the idle one. Exits non-zero only
 * when something fails (a request error, a backup that fails), never because of a figure.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBackupCluster } from '../test/support/datakeep-backup-cluster.js';
import { startServe, type ServeProcess } from '../test/support/serve-process.js';
import { BenchOptions } from './support/bench-options.js';
import { formatDuration, formatRate, formatRatio } from './support/format-figures.js';
import { formatTable } from './support/format-table.js';
import { machineNote } from './support/machine-note.js';

const options = new BenchOptions();
const rows = options.int({ flag: 'rows', env: 'DK_BENCH_ROWS', default: 1_000_000, help: 'rows of ~70 bytes in the table backed up (1,000,000 is ~130 MB on disk)', min: 1000 });
const rounds = options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 3, help: 'rounds of (idle, loaded) backups', min: 1 });
const nice = options.int({ flag: 'nice', env: 'DK_BENCH_NICE', default: 10, help: 'niceness of the load generator process (0: same priority as the service)', min: 0 });
const concurrency = options.int({ flag: 'concurrency', env: 'DK_BENCH_CONCURRENCY', default: 200, help: 'requests kept in flight during the loaded backup', min: 1 });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}

const ROUTES = ['/metrics', '/api/v1/health', '/livez', '/readyz'];

interface Side { ms: number; requests: number; errors: number; loadMs: number }

/** Takes one full backup through the API (while `load` runs, if given); the job's own duration. */
async function backup(serve: ServeProcess, token: string): Promise<number> {
  const res = await serve.request('/api/v1/backups', { token, body: { type: 'full' } });
  if (res.status !== 202) throw new Error(`POST /api/v1/backups: ${res.status} ${await res.text()}`);
  const { jobId } = (await res.json()) as { jobId: string };
  const events = await (await serve.request(`/api/v1/jobs/${jobId}/events`, { token })).text();
  if (!/^event: done$/m.test(events)) throw new Error(`backup job ${jobId} did not succeed: ${events.slice(-500)}`);
  const job = (await (await serve.request(`/api/v1/jobs/${jobId}`, { token })).json()) as { startedAt: string; finishedAt: string };
  return new Date(job.finishedAt).getTime() - new Date(job.startedAt).getTime();
}

/**
 * Keeps `concurrency` requests in flight from a process of its own at `nice` (so that, as with a real service's
 * clients, the load's own CPU is not taken from the service at the same priority) until `until` settles.
 */
async function loadUntil(serve: ServeProcess, token: string, until: Promise<unknown>): Promise<{ requests: number; errors: number; ms: number; firstError?: string }> {
  const script = fileURLToPath(new URL('./support/http-load.ts', import.meta.url));
  const child = spawn('nice', ['-n', String(nice), process.execPath, '--import', 'tsx', script, serve.url, token, String(concurrency), ...ROUTES], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    if ((await lines.next()).value !== 'ready') throw new Error('the load generator did not start');
    await until.catch(() => undefined);
    child.kill('SIGTERM');
    const report = (await lines.next()).value as string | undefined;
    if (!report) throw new Error(`the load generator exited with ${await exited} without a report`);
    return JSON.parse(report) as { requests: number; errors: number; ms: number; firstError?: string };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const { cluster, work, destination, passphraseFile } = await startBackupCluster('service-load', 'app');
const configDir = mkdtempSync(join(tmpdir(), 'dk-service-load-'));
let serve: ServeProcess | undefined;
let failed = false;
try {
  await cluster.query(`CREATE TABLE load AS SELECT g, md5(g::text) || md5((g * 7)::text) AS t FROM generate_series(1, ${rows}) g`);
  await cluster.query('CHECKPOINT');
  const configFile = join(configDir, 'datakeep.config.json');
  writeFileSync(configFile, JSON.stringify({ databases: [{ ...cluster.config, id: 'app' }], state: { url: cluster.url }, logLevel: 'error', backups: { destination, passphraseFile } }));
  serve = await startServe(configFile, { cwd: configDir });
  await serve.waitReady();
  const token = serve.adminToken!;
  await backup(serve, token); // warm-up: the first full backup writes every chunk; later ones deduplicate alike
  const idle: Side[] = [];
  const loaded: Side[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const side of round % 2 === 0 ? ['idle', 'loaded'] : ['loaded', 'idle']) {
      if (side === 'idle') {
        idle.push({ ms: await backup(serve, token), requests: 0, errors: 0, loadMs: 0 });
      } else {
        const run = backup(serve, token);
        const load = await loadUntil(serve, token, run);
        loaded.push({ ms: await run, requests: load.requests, errors: load.errors, loadMs: load.ms });
        if (load.errors > 0) {
          failed = true;
          console.error(`round ${round + 1}: ${load.errors} of ${load.requests} requests failed (first: ${load.firstError})`);
        }
      }
      console.error(`round ${round + 1} ${side}: ${formatDuration((side === 'idle' ? idle : loaded).at(-1)!.ms)}`);
    }
  }
  const ratio = median(loaded.map((s) => s.ms)) / median(idle.map((s) => s.ms));
  const requests = loaded.reduce((n, s) => n + s.requests, 0);
  const errors = loaded.reduce((n, s) => n + s.errors, 0);
  const rate = requests / (loaded.reduce((n, s) => n + s.loadMs, 0) / 1000);
  console.log(`\nFull backup of ~${rows.toLocaleString('en-US')} rows through the API, ${rounds} round(s); load: ${concurrency} requests in flight (${ROUTES.join(', ')}) from a process at nice ${nice}\n`);
  console.log(formatTable(['side', 'backup (median)', 'each', 'requests', 'failed', 'requests/s'], [
    ['idle service', formatDuration(median(idle.map((s) => s.ms))), idle.map((s) => formatDuration(s.ms)).join(', '), '-', '-', '-'],
    ['under load', formatDuration(median(loaded.map((s) => s.ms))), loaded.map((s) => formatDuration(s.ms)).join(', '), requests.toLocaleString('en-US'), String(errors), formatRate(rate)],
  ], { markdown: true }));
  console.log(`\nratio loaded/idle: ${formatRatio(ratio)} (goal <= 1.10)\n${machineNote()}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await serve?.stop('SIGTERM').catch(() => undefined);
  await cluster.destroy();
  rmSync(work, { recursive: true, force: true });
  rmSync(configDir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
