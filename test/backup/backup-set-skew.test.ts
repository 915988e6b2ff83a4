// Issue 14 part 3: one backup set across PostgreSQL, MariaDB and Redis, restored to one targetTime, and the skew that
// remains between the engines measured with a shared sequence written to all of them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mariadb, { type Connection } from 'mariadb';
import pg from 'pg';
import { Redis } from 'ioredis';
import { DataManager } from '../../src/index.js';
import type { RestoreResult } from '../../src/backup/backup-types.js';
import { archiveBinlog } from '../../src/engines/mariadb/backup/index.js';
import { captureRedisStream } from '../../src/engines/redis/backup/index.js';
import { parseSegmentName } from '../../src/engines/redis/backup/stream-segment.js';
import { stopRestoredCluster } from '../../src/engines/postgres/backup/start-restored-cluster.js';
import { openRepository } from '../../src/repository/index.js';
import { runCliCaptured } from '../support/cli-run.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { ThrowawayRedis } from '../support/throwaway-redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A bound on a wait that does not keep the process alive once the wait is over (the runner waits for open timers). */
const limit = <T>(ms: number, value: () => T) => new Promise<T>((r) => setTimeout(() => r(value()), ms).unref());
const TICK_MS = 20;
const ENGINES = ['pg', 'maria', 'cache'] as const;
type Engine = (typeof ENGINES)[number];

/** What the sequencer knows of one n: when it started writing it, and when each engine acknowledged it. */
interface Stamp {
  readonly wall: number;
  readonly acked: Partial<Record<Engine, number>>;
}

/** Waits (bounded) until `check` holds; the error names what did not happen. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * One sequencer: every ~20 ms the next n, written with its wall time to every engine at once (a row in PostgreSQL
 * and MariaDB, a list entry in Redis). Writes are sequential per n, so n's order is the same on every engine.
 */
class Sequencer {
  readonly stamps = new Map<number, Stamp>();
  #n = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(private readonly write: Record<Engine, (n: number, wall: number) => Promise<unknown>>) {}

  start(): void {
    this.#loop = (async () => {
      let next = Date.now();
      while (!this.#stopped) {
        const n = ++this.#n;
        const wall = Date.now();
        const acked: Partial<Record<Engine, number>> = {};
        this.stamps.set(n, { wall, acked });
        await Promise.all(ENGINES.map(async (engine) => {
          await this.write[engine](n, wall);
          acked[engine] = Date.now();
        }));
        next = Math.max(next + TICK_MS, Date.now());
        await sleep(next - Date.now());
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  get last(): number {
    return this.#n;
  }
}

/** A shell command as a child of its own (a foreground server), so that it can be stopped by PID. */
function spawnCommand(command: string): { pid: number; exited: Promise<number | null>; running: () => boolean } {
  const child = spawn('sh', ['-c', `exec ${command}`], { stdio: 'ignore' });
  let done = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    done = true;
    resolve(code);
  }));
  return { pid: child.pid!, exited, running: () => !done };
}

/** Signals a process we started, by PID; one that has exited already is fine. */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Exited already.
  }
}

/** Runs a command that returns once it has done its work (pg_ctl start). */
async function runCommand(command: string): Promise<void> {
  const { exited } = spawnCommand(command);
  const code = await Promise.race([exited, limit(90_000, () => 'timeout' as const)]);
  if (code !== 0) throw new Error(`${command}: ${code === 'timeout' ? 'did not return within 90 s' : `exit ${String(code)}`}`);
}

describe('a backup set restored to one targetTime: PostgreSQL and MariaDB by their logs, Redis by its stream', () => {
  let pgCluster: ThrowawayPostgres;
  let maria: ThrowawayMariadb;
  let redis: ThrowawayRedis;
  let stateDb: TestDatabase;
  let work: string;
  /** Restores go where both the postgres and the mysql OS users can enter (the backup cluster's work directory is postgres's, 0700). */
  let restores: string;
  let destination: string;
  let passphraseFile: string;
  let dm: DataManager;
  const restoredDirs: string[] = [];
  const running = new Map<number, Promise<unknown>>();

  before(async () => {
    let setup: Awaited<ReturnType<typeof startBackupCluster>>;
    [setup, maria, redis, stateDb] = await Promise.all([
      startBackupCluster('skew-pg', 'pg'),
      ThrowawayMariadb.start('skew-maria'),
      ThrowawayRedis.start({ name: 'skew-redis', config: ['repl-diskless-sync-delay 0'] }),
      createTestDatabase('dk_skew_state'),
    ]);
    ({ cluster: pgCluster, work, destination, passphraseFile } = setup);
    restores = mkdtempSync(join(tmpdir(), 'dk-skew-restores-'));
    chmodSync(restores, 0o755);
    await pgCluster.query('CREATE TABLE seq (n int PRIMARY KEY, wall timestamptz NOT NULL)');
    const c = await maria.connect();
    await c.query('CREATE DATABASE app; CREATE TABLE app.seq (n INT PRIMARY KEY, wall DATETIME(6) NOT NULL) ENGINE=InnoDB');
    await c.end();
    dm = new DataManager({ config: {
      databases: [{ ...pgCluster.config, id: 'pg' }, { ...maria.config('app'), id: 'maria' }, { ...redis.config, id: 'cache' }],
      state: { url: stateDb.url }, logLevel: 'error',
    } });
    await dm.initialize();
  });

  after(async () => {
    for (const [pid, exited] of running) {
      signalPid(pid, 'SIGKILL');
      await exited;
    }
    for (const dir of restoredDirs) await stopRestoredCluster(dir).catch(() => undefined);
    await dm?.close();
    await Promise.all([pgCluster?.destroy(), maria?.destroy(), redis?.stop(), stateDb?.drop()].map((p) => p?.catch(() => undefined)));
    if (work) rmSync(work, { recursive: true, force: true });
    if (restores) rmSync(restores, { recursive: true, force: true });
  });

  /** Starts a restored member as its result says, reads every n it holds, and stops it by PID. */
  async function readRestored(member: RestoreResult, port: number): Promise<number[]> {
    if (member.database === 'pg') {
      restoredDirs.push(member.to);
      await runCommand(member.startCommand);
      let client: pg.Client | undefined;
      try {
        await until(`restored PostgreSQL in ${member.to} promoted`, 60_000, async () => {
          await client?.end().catch(() => undefined);
          client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
          try {
            await client.connect();
            return (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r === false;
          } catch {
            return false;
          }
        });
        return (await client!.query<{ n: number }>('SELECT n FROM seq ORDER BY n')).rows.map((r) => r.n);
      } finally {
        await client?.end().catch(() => undefined);
        await stopRestoredCluster(member.to);
      }
    }
    const server = spawnCommand(member.startCommand);
    running.set(server.pid, server.exited);
    try {
      if (member.database === 'maria') {
        let conn: Connection | undefined;
        await until(`restored MariaDB in ${member.to} accepting connections`, 60_000, async () => {
          if (!server.running()) throw new Error(`${member.startCommand}: exited before accepting connections`);
          conn = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 2000 }).catch(() => undefined);
          return conn !== undefined;
        });
        try {
          return (await conn!.query<{ n: number }[]>('SELECT n FROM app.seq ORDER BY n')).map((r: { n: number }) => Number(r.n));
        } finally {
          await conn!.end();
        }
      }
      const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      // Refused connections while the server starts are expected; connect()'s rejection reports them.
      client.on('error', () => undefined);
      await until(`restored Redis in ${member.to} answering`, 30_000, async () => {
        if (!server.running()) throw new Error(`${member.startCommand}: exited before answering`);
        return client.connect().then(() => true, () => false);
      });
      try {
        return (await client.lrange('skew:seq', 0, -1)).map((entry) => Number(entry.split(':')[0]));
      } finally {
        client.disconnect();
      }
    } finally {
      signalPid(server.pid, 'SIGTERM');
      await Promise.race([server.exited, limit(30_000, () => signalPid(server.pid, 'SIGKILL'))]);
      running.delete(server.pid);
    }
  }

  it('every engine comes back consistent with the target, and the skew between them is measured', async (t) => {
    const pgWriter = await pgCluster.connect();
    const mariaWriter = await maria.connect();
    const redisWriter = new Redis({ host: redis.host, port: redis.port });
    const sequencer = new Sequencer({
      pg: (n, wall) => pgWriter.query('INSERT INTO seq (n, wall) VALUES ($1, $2)', [n, new Date(wall)]),
      maria: (n, wall) => mariaWriter.query('INSERT INTO app.seq (n, wall) VALUES (?, ?)', [n, new Date(wall)]),
      cache: (n, wall) => redisWriter.rpush('skew:seq', `${n}:${wall}`),
    });
    const controller = new AbortController();
    let capture: Promise<unknown> | undefined;
    try {
      sequencer.start();
      await sleep(500);
      const backup = await dm.createBackup({ type: 'full', destination, passphraseFile, compression: true, encryption: true, retention: { daily: 7 } });
      assert.ok(backup.setId, 'createBackup with several databases made a set');
      const [set] = (await dm.backups.listBackupSets({ destination, passphraseFile })).filter((s) => s.setId === backup.setId);
      assert.deepEqual(set!.members.map((m) => m.database).sort(), ['cache', 'maria', 'pg']);
      for (const member of set!.members) assert.ok(member.consistentAt, `${member.database} reports its consistency point`);

      // Redis: the capture continues from the snapshot's offset (the master's backlog holds what came since).
      const cacheRepository = await openRepository(join(destination, 'cache'), { passphrase: readFileSync(passphraseFile, 'utf8').trim(), workers: 1 });
      let capturedTo = 0;
      capture = captureRedisStream({
        endpoint: { host: redis.host, port: redis.port, timeoutMs: 10_000 }, repository: cacheRepository, database: 'cache', signal: controller.signal, segmentMs: 200,
        onSegment: (name) => {
          capturedTo = Math.max(capturedTo, parseSegmentName(name)!.end);
        },
      }).finally(() => cacheRepository.close?.());

      await sleep(1500);
      const target = new Date();
      await sleep(2200);
      await sequencer.stop();

      // Each log made to cover the target as a user would. PostgreSQL: switch the WAL segment and wait until it is archived.
      const segment = (await pgCluster.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment'))[0]!.segment;
      await until(`WAL segment ${segment} archived`, 60_000, async () => {
        const [row] = await pgCluster.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver');
        return row!.last !== null && row!.last >= segment;
      });
      // MariaDB: archive the binlog written since the backup (what docs/mariadb-backups.md says to run between backups).
      const mariaRepository = await openRepository(join(destination, 'maria'), { passphrase: readFileSync(passphraseFile, 'utf8').trim(), workers: 1 });
      try {
        const mariaMember = set!.members.find((m) => m.database === 'maria')!;
        const summary = (await mariaRepository.list()).find((s) => s.backupId === mariaMember.backupId)!;
        await archiveBinlog({ session: mariaWriter, repository: mariaRepository, fromSeq: Number(String(summary.metadata.binlogFile).split('.').pop()) });
      } finally {
        await mariaRepository.close?.();
      }
      // Redis: until the capture has stored the master's stream up to its last write.
      const masterOffset = Number(/master_repl_offset:(\d+)/.exec(await redisWriter.info('replication'))![1]);
      await until(`the capture stored the Redis stream up to ${masterOffset}`, 20_000, async () => capturedTo >= masterOffset);
      controller.abort();
      await capture;
      capture = undefined;

      const wallOf = (n: number) => sequencer.stamps.get(n)?.wall ?? Number.NaN;
      const T = target.getTime();
      const secondEnd = Math.floor(T / 1000) * 1000 + 1000;
      const port = await freePort();
      const restoreAndRead = async (label: string, restore: () => Promise<RestoreResult>): Promise<Record<Engine, number[]>> => {
        const started = Date.now();
        const result = await restore();
        assert.equal(result.setId, backup.setId);
        assert.deepEqual(result.members!.map((m) => m.database).sort(), ['cache', 'maria', 'pg']);
        const restoredMs = Date.now() - started;
        const read = {} as Record<Engine, number[]>;
        for (const member of result.members!) read[member.database as Engine] = await readRestored(member, port);
        t.diagnostic(`${label}: restore of the set took ${restoredMs} ms`);
        return read;
      };

      const byDate = await restoreAndRead('targetTime as a Date', () => dm.restoreBackup(backup.setId, { targetTime: target, to: join(restores, 'r-date'), destination, passphraseFile, port }));
      for (const engine of ENGINES) {
        const ns = byDate[engine];
        assert.ok(ns.length > 0, `${engine}: restored rows`);
        // Nothing missing below the highest n: the sequence is written in order, so a hole is lost data.
        assert.deepEqual(ns, Array.from({ length: ns.length }, (_, i) => i + 1), `${engine}: restored n are 1..${ns.at(-1)} without a hole`);
      }
      const top = Object.fromEntries(ENGINES.map((e) => [e, byDate[e].at(-1)!])) as Record<Engine, number>;
      const acked = (engine: Engine, n: number) => sequencer.stamps.get(n)?.acked[engine] ?? Infinity;
      const detail = ENGINES.map((e) => `${e} n=${top[e]} written ${wallOf(top[e]) - T} ms from T`).join(', ');

      // PostgreSQL stops at the first commit after T (its commit timestamps, microseconds): exactly the n acked
      // before T, none written after it.
      assert.ok(wallOf(top.pg) <= T, `pg holds n=${top.pg} written after T (${detail})`);
      assert.ok(acked('pg', top.pg + 1) > T, `pg lacks n=${top.pg + 1}, acked before T (${detail})`);
      // MariaDB's binlog stamps whole seconds (the statement's start): every n of T's second comes back, none of a later one.
      assert.ok(wallOf(top.maria) < secondEnd, `maria holds n=${top.maria}, written after T's second (${detail})`);
      assert.ok(acked('maria', top.maria + 1) >= secondEnd, `maria lacks n=${top.maria + 1}, acked within T's second (${detail})`);
      // Redis: batches stamped with their arrival at the capture (milliseconds after the master ran them).
      assert.ok(wallOf(top.cache) <= T, `cache holds n=${top.cache} written after T (${detail})`);
      assert.ok(acked('cache', top.cache + 1) > T - 1000, `cache lacks n=${top.cache + 1}, acked well before T (${detail})`);

      const tops = ENGINES.map((e) => top[e]);
      const [low, high] = [Math.min(...tops), Math.max(...tops)];
      t.diagnostic(`skew at T=${target.toISOString()}: ${detail}; max n - min n = ${high - low} (${wallOf(high) - wallOf(low)} ms of writes)`);

      // Through the CLI, a whole second W (T's, written as ISO 8601 with an offset) with --target-exclusive: MariaDB
      // stops at W's start, PostgreSQL before the first commit at W, Redis at W; the engines should meet within a
      // write or two. (PostgreSQL's literal form, named zones and --time-zone are read by the same parser as the
      // API's: backup-sets.test.ts.)
      const W = Math.floor(T / 1000) * 1000;
      const configFile = join(work, 'skew.config.json');
      writeFileSync(configFile, JSON.stringify({ databases: [{ ...pgCluster.config, id: 'pg' }], state: { url: stateDb.url }, logLevel: 'error' }));
      const wholeText = new Date(W + 5.5 * 3600_000).toISOString().replace('Z', '+05:30');
      const byCli = await restoreAndRead(`CLI --target-time ${wholeText} --target-exclusive`, async () => {
        const run = await runCliCaptured(['restore', backup.setId!, '--target-time', wholeText, '--target-exclusive', '--to', join(restores, 'r-cli'), '--dest', destination, '--passphrase-file', passphraseFile, '--port', String(port), '--json'], configFile);
        assert.equal(run.code, 0, run.io.stderr.join('\n'));
        return run.io.json<RestoreResult>();
      });
      const whole = Object.fromEntries(ENGINES.map((e) => [e, byCli[e].at(-1)!])) as Record<Engine, number>;
      const wholeDetail = ENGINES.map((e) => `${e} n=${whole[e]} written ${wallOf(whole[e]) - W} ms from W`).join(', ');
      for (const engine of ENGINES) {
        assert.deepEqual(byCli[engine], Array.from({ length: whole[engine] }, (_, i) => i + 1), `${engine}: restored n are 1..${whole[engine]} without a hole`);
        assert.ok(wallOf(whole[engine]) < W, `${engine} holds n=${whole[engine]} written at or after W (${wholeDetail})`);
      }
      assert.ok(acked('pg', whole.pg + 1) >= W, `pg lacks n=${whole.pg + 1}, acked before W (${wholeDetail})`);
      assert.ok(acked('maria', whole.maria + 1) >= W, `maria lacks n=${whole.maria + 1}, acked before W (${wholeDetail})`);
      assert.ok(acked('cache', whole.cache + 1) > W - 1000, `cache lacks n=${whole.cache + 1}, acked well before W (${wholeDetail})`);
      const wholeTops = ENGINES.map((e) => whole[e]);
      t.diagnostic(`skew at a whole second, exclusive, W=${new Date(W).toISOString()}: ${wholeDetail}; max n - min n = ${Math.max(...wholeTops) - Math.min(...wholeTops)}`);
    } finally {
      await sequencer.stop();
      controller.abort();
      await capture?.catch(() => undefined);
      await pgWriter.end();
      await mariaWriter.end();
      redisWriter.disconnect();
    }
  });

  it('MongoDB joins the set by its oplog', { skip: 'needs a MongoDB replica set (FerretDB has no real oplog)' }, () => undefined);
});
