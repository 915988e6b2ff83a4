// Redis snapshot backups side by side: datakeep's (PSYNC over the replication protocol, the RDB streamed into the
// encrypted, compressed, content-addressed repository) and `redis-cli --rdb FILE` (the same protocol, the RDB written
// to a plain file), on one throwaway redis-server holding KEYS keys. Rounds alternate which side runs first.
// Run: node --import tsx bench/redis-backup.ts [--keys=1500000] [--rounds=4] [--workers=2]
// Both sides wait for the same fork + RDB; repl-diskless-sync-delay is 0 so neither waits 5 s for other replicas.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ReplicationLink } from '../src/engines/redis/backup/replication-link.js';
import { storeSnapshot } from '../src/engines/redis/backup/snapshot-redis.js';
import { initRepository } from '../src/repository/index.js';
import { ThrowawayRedis } from '../test/support/throwaway-redis.js';
import { BenchOptions } from './support/bench-options.js';
import { formatDuration, formatRatio } from './support/format-figures.js';
import { machineNote } from './support/machine-note.js';
import { median } from './support/stats.js';
import { warmRepository } from './support/warm-repository.js';

const run = promisify(execFile);
const options = new BenchOptions();
const keys = options.int({ flag: 'keys', env: 'DK_BENCH_KEYS', default: 1_500_000, help: 'keys in the data set (hashes, strings, lists: a third each)' });
const rounds = options.int({ flag: 'rounds', env: 'DK_BENCH_ROUNDS', default: 4, help: 'rounds (each side once per round)' });
const workers = options.int({ flag: 'workers', env: 'DK_BENCH_WORKERS', default: 2, help: "datakeep repository's chunk workers" });
if (options.helpRequested) {
  console.log(options.usage());
  process.exit(0);
}
options.assertNoUnknownFlags();

const work = mkdtempSync(join(tmpdir(), 'dk-bench-redis-backup-'));
const server = await ThrowawayRedis.start({ name: 'bench-rbk', config: ['repl-diskless-sync-delay 0', 'enable-debug-command local'] });
try {
  const client = new Redis({ host: server.host, port: server.port });
  // Strings from DEBUG POPULATE (fast), then hashes and lists through pipelines, so the RDB is not one uniform shape.
  const third = Math.floor(keys / 3);
  await client.call('DEBUG', 'POPULATE', String(third), 'str', '64');
  for (let i = 0; i < third; i += 10_000) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(third, i + 10_000); j += 1) {
      p.hset(`hash:${j}`, 'name', `user ${j}`, 'score', String(j * 7), 'note', `n${(j * 2654435761) % 1000003}`);
      p.rpush(`list:${j}`, `a${j}`, `b${j}`, `c${j % 97}`);
    }
    await p.exec();
  }
  const size = Number(await client.dbsize());
  client.disconnect();
  console.log(`data set: ${size.toLocaleString('en-US')} keys`);

  const cli: number[] = [];
  const dk: number[] = [];
  let rdbBytes = 0;
  let stored = 0;
  for (let round = 1; round <= rounds; round += 1) {
    const sides = round % 2 === 1 ? ['datakeep', 'redis-cli'] : ['redis-cli', 'datakeep'];
    for (const side of sides) {
      if (side === 'redis-cli') {
        const file = join(work, `cli-${round}.rdb`);
        const t = performance.now();
        await run('redis-cli', ['-h', server.host, '-p', String(server.port), '--rdb', file]);
        cli.push(performance.now() - t);
        rdbBytes = statSync(file).size;
        rmSync(file);
      } else {
        const dir = join(work, `repo-${round}`);
        // A fresh repository per round (nothing to deduplicate against), created untimed: a repository is made once
        // per database, and its key derivation is deliberately slow. Its workers load untimed too (warmRepository).
        const repository = await initRepository(dir, { passphrase: 'bench passphrase', workers });
        await warmRepository(repository, workers);
        const t = performance.now();
        const link = await ReplicationLink.open({ host: server.host, port: server.port, timeoutMs: 10_000 });
        const start = await link.sync(undefined, { rdbOnly: true });
        if (start.kind !== 'full') throw new Error('expected a full resync');
        const manifest = await storeSnapshot({ repository, database: 'bench', link, start });
        link.close();
        dk.push(performance.now() - t);
        await repository.close();
        stored = manifest.storedBytes;
        rmSync(dir, { recursive: true, force: true });
      }
      console.log(`round ${round} ${side}: ${formatDuration(side === 'redis-cli' ? cli.at(-1)! : dk.at(-1)!)}`);
    }
  }
  const ratio = median(dk) / median(cli);
  console.log(`\nRDB ${(rdbBytes / 1e6).toFixed(1)} MB (redis-cli --rdb file); datakeep stored ${(stored / 1e6).toFixed(1)} MB (zstd, encrypted)`);
  console.log(`datakeep snapshot median ${formatDuration(median(dk))}; redis-cli --rdb median ${formatDuration(median(cli))}`);
  console.log(`ratio datakeep / redis-cli: ${formatRatio(ratio)} (goal <= 1.0: ${ratio <= 1 ? 'met' : 'not met'})`);
  console.log(machineNote());
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
