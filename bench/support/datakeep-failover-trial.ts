// One datakeep trial of bench/failover.ts, on the anchor's protocol: a fresh 3-member PostgreSQL 15 cluster (the
// primary from ThrowawayPostgres, the two replicas created by dm.setupReplication from empty data directories), one
// etcd, two watcher processes (automatic failover through the etcd authority) and a writer process that follows the
// authority's record. The primary's postmaster and its children get SIGKILL; the figures come from the writer's log
// and from the rows on the new primary. Everything started here is stopped by PID in `finally`.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../../src/util/free-port.js';
import { ThrowawayEtcd } from '../../test/support/throwaway-etcd.js';
import { ThrowawayPostgres } from '../../test/support/throwaway-postgres.js';
import { BenchChild } from './bench-child.js';
import { ackAfterFailover, parseAckLog, trialFigures, type TrialFigures } from './failover-figures.js';
import type { FailoverSpec } from './failover-spec.js';

const HOST = '127.0.0.1';
const WATCHER = fileURLToPath(new URL('./failover-watcher.ts', import.meta.url));
const WRITER = fileURLToPath(new URL('./failover-writer.ts', import.meta.url));
/** The anchor's member settings (its bootstrap.dcs.postgresql.parameters and postgresql.parameters), plus wal_log_hints for pg_rewind. */
const MEMBER_CONFIG = [
  'fsync = on', 'wal_level = replica', 'hot_standby = on', 'max_wal_senders = 10', 'max_replication_slots = 10',
  'wal_keep_size = 128MB', 'shared_buffers = 64MB', 'max_connections = 50', 'wal_log_hints = on',
];

export interface DatakeepTrialOptions {
  readonly mode: 'sync' | 'async';
  readonly failoverTimeout: number;
  readonly leaseTtl: number;
  /** The random phase before the kill is 3 s + [0, phaseS) s, as the anchor's `3 + RANDOM % loop_wait`. */
  readonly phaseS: number;
  /** Harness self-check: no watchers and no replication, the writer on the primary alone; the kill must show as no failover. */
  readonly selfCheck?: boolean;
  /**
   * Also SIGKILL the watcher holding the authority's lease, with the primary: the case of an agent that lives on the
   * primary's machine and dies with it, as Patroni's does in the anchor. The other watcher must wait for the lease.
   */
  readonly killHolder?: boolean;
  /** circuitBreaker.resetTimeout of every DataManager's database, in ms (0: the library's default). */
  readonly breakerResetMs?: number;
  readonly log?: (line: string) => void;
}

export interface DatakeepTrial extends Partial<TrialFigures> {
  readonly failure?: string;
  readonly newPrimary?: string;
  /** Seconds from the kill to the authority's new cluster record (its `at`), when there is one. */
  readonly recordS?: number;
  readonly bootS: number;
  /** Where the logs were kept (only when the trial failed). */
  readonly keptIn?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bounded poll: `probe` until it returns a value, or throws `what` after `timeoutMs`. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

async function query<R extends pg.QueryResultRow>(port: number, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ host: HOST, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3000, query_timeout: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The postmaster of `dataDir` from postmaster.pid, only if that PID really is a postgres on that directory. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(dataDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (the postmaster's backends and auxiliary processes), as `pgrep -P`. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Immediate shutdown of whatever postmaster runs on `dataDir` (SIGQUIT), SIGKILL after 5 s. */
async function stopPostmaster(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return;
  signal(pid, 'SIGQUIT');
  const deadline = Date.now() + 5000;
  while (postmasterPid(dataDir) !== undefined && Date.now() < deadline) await sleep(100);
  if (postmasterPid(dataDir) !== undefined) {
    for (const child of childrenOf(pid)) signal(child, 'SIGKILL');
    signal(pid, 'SIGKILL');
  }
}

/** Replicas created by datakeep are daemons of pg_ctl, not children: kill them if the benchmark dies first. */
const liveDataDirs = new Set<string>();
process.on('exit', () => {
  for (const dir of liveDataDirs) {
    const pid = postmasterPid(dir);
    if (pid !== undefined) signal(pid, 'SIGKILL');
  }
});

export async function datakeepFailoverTrial(options: DatakeepTrialOptions): Promise<DatakeepTrial> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'dk-bench-failover-'));
  chmodSync(work, 0o755);
  const { uid, gid } = postgresIds();
  let etcd: ThrowawayEtcd | undefined;
  let primary: ThrowawayPostgres | undefined;
  const children: BenchChild[] = [];
  const replicaDirs = ['r1', 'r2'].map((n) => join(work, n));
  let failed = false;
  try {
    etcd = await ThrowawayEtcd.start({ name: 'bench-failover-etcd' });
    primary = await ThrowawayPostgres.start({ name: 'bench-failover-p0', config: MEMBER_CONFIG, timeoutMs: 60_000 });
    liveDataDirs.add(primary.dataDir);
    for (const dir of replicaDirs) {
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, uid, gid);
      liveDataDirs.add(dir);
    }
    const replicas = [{ name: 'r1', port: await freePort(HOST), dataDir: replicaDirs[0]! }, { name: 'r2', port: await freePort(HOST), dataDir: replicaDirs[1]! }];
    const ports = new Map<number, string>([[primary.port, 'p0'], ...replicas.map((r) => [r.port, r.name] as [number, string])]);
    const spec = (stateDir: string, automaticFailover: boolean): FailoverSpec => ({
      primary: { port: primary!.port, dataDir: primary!.dataDir }, replicas, mode: options.mode,
      failoverTimeout: options.failoverTimeout, leaseTtl: options.leaseTtl, etcd: etcd!.endpoint, stateDir: join(work, stateDir), automaticFailover,
      ...(options.breakerResetMs ? { breakerResetMs: options.breakerResetMs } : {}),
    });
    const p0 = primary.port;

    if (!options.selfCheck) {
      // The first watcher creates the replicas; the second starts once they exist, so that only one creates them.
      const a = new BenchChild(WATCHER, [JSON.stringify(spec('state-a', true))], join(work, 'watcher-a.log'));
      children.push(a);
      await a.ready(240_000);
      await waitFor('two replicas streaming' + (options.mode === 'sync' ? ', one of them synchronous' : ''), 120_000, async () => {
        const [row] = await query<{ s: number; y: number }>(p0,
          "SELECT count(*) FILTER (WHERE state = 'streaming')::int AS s, count(*) FILTER (WHERE sync_state IN ('sync', 'quorum'))::int AS y FROM pg_stat_replication WHERE application_name <> 'pg_basebackup'");
        return row && row.s === 2 && (options.mode === 'async' || row.y >= 1) ? true : undefined;
      });
      const b = new BenchChild(WATCHER, [JSON.stringify(spec('state-b', true))], join(work, 'watcher-b.log'));
      children.push(b);
      await b.ready(120_000);
    }
    // The row remembers which server wrote it: the figures check that the first acknowledgement after the kill came
    // from the new primary.
    await query(p0, 'CREATE TABLE t (id bigint PRIMARY KEY, ts timestamptz DEFAULT clock_timestamp(), port int DEFAULT inet_server_port())');
    if (!options.selfCheck) {
      const [{ lsn }] = (await query<{ lsn: string }>(p0, 'SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
      await waitFor('both replicas replayed the CREATE TABLE', 60_000, async () => {
        const [row] = await query<{ n: number }>(p0, "SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name <> 'pg_basebackup' AND state = 'streaming' AND replay_lsn >= $1::pg_lsn", [lsn]);
        return row?.n === 2 ? true : undefined;
      });
    }
    const ackFile = join(work, 'acks');
    const writer = new BenchChild(WRITER, [JSON.stringify({ ...spec('state-w', false), plain: options.selfCheck === true }), ackFile], join(work, 'writer.log'));
    children.push(writer);
    await writer.ready(120_000);
    const bootS = (Date.now() - started) / 1000;
    await sleep(3000 + Math.floor(Math.random() * options.phaseS) * 1000);

    const [role] = await query<{ r: boolean }>(p0, 'SELECT pg_is_in_recovery() AS r');
    const pm = postmasterPid(primary.dataDir);
    if (role?.r !== false || pm === undefined) {
      failed = true;
      return { failure: role?.r !== false ? 'p0-not-primary-before-kill' : 'no-postmaster-before-kill', bootS, keptIn: work };
    }
    const victims = [pm, ...childrenOf(pm)];
    let holder: BenchChild | undefined;
    if (options.killHolder) {
      // The holder names itself host:pid:random (src/replication/replication-manager.ts).
      const keys = Object.values(await readEtcdPrefix(etcd.endpoint, '/datakeep/'));
      holder = children.find((c) => c !== writer && keys.some((v) => v.includes(`:${c.pid}:`)));
      if (!holder) {
        failed = true;
        return { failure: 'no-lease-holder-found', bootS, keptIn: work };
      }
      victims.push(holder.pid!);
    }
    const killedAt = Date.now() / 1000;
    for (const pid of victims) signal(pid, 'SIGKILL');
    log(`killed p0 (postmaster ${pm} and ${victims.length - 1} children${holder ? ', the lease holder among them' : ''})`);

    const deadline = Date.now() + 3 * options.failoverTimeout + 60_000;
    let firstAck = false;
    while (!firstAck && Date.now() < deadline) {
      firstAck = ackAfterFailover(parseAckLog(readFileSync(ackFile, 'utf8')), killedAt);
      if (!firstAck) await sleep(100);
    }
    await sleep(2000);
    await writer.stop();
    const acks = parseAckLog(readFileSync(ackFile, 'utf8'));

    // The new primary: the one member other than p0 that is not in recovery (two would be a split brain).
    const primaries: number[] = [];
    for (const r of replicas) {
      const [row] = await query<{ r: boolean }>(r.port, 'SELECT pg_is_in_recovery() AS r').catch(() => []);
      if (row?.r === false) primaries.push(r.port);
    }
    let record: Record<string, string> = {};
    try {
      record = await readEtcdPrefix(etcd.endpoint, '/');
    } catch {
      // a report without the record
    }
    const recordAt = Object.values(record).map((v) => {
      try {
        return (JSON.parse(v) as { reason?: string; at?: string });
      } catch {
        return {};
      }
    }).find((r) => r.reason === 'failover')?.at;
    const recordS = recordAt === undefined ? undefined : new Date(recordAt).getTime() / 1000 - killedAt;
    if (primaries.length !== 1) {
      failed = true;
      // No new primary to compare with: acknowledged and failed counts only, no loss figure.
      const { acked, preKillAcks, errors } = trialFigures(acks, killedAt, new Map(), p0);
      return { acked, preKillAcks, errors, failure: primaries.length === 0 ? 'no-failover' : `split-brain(${primaries.map((p) => ports.get(p)).join(',')})`, bootS, recordS, keptIn: work };
    }
    const newPort = primaries[0]!;
    const rows = await query<{ id: string; port: number }>(newPort, 'SELECT id::text, port FROM t');
    const figures = trialFigures(acks, killedAt, new Map(rows.map((r) => [Number(r.id), r.port])), p0);
    if (figures.rtoS === undefined) failed = true;
    return { ...figures, newPrimary: ports.get(newPort), bootS, recordS, ...(figures.rtoS === undefined ? { failure: 'no-ack-after-kill', keptIn: work } : {}) };
  } catch (error) {
    failed = true;
    return { failure: `error: ${(error as Error).message.split('\n')[0]}`, bootS: (Date.now() - started) / 1000, keptIn: work };
  } finally {
    // Writer and watchers first (the lease holder resigns), then every postmaster, etcd last.
    for (const child of [...children].reverse()) await child.stop();
    for (const dir of replicaDirs) await stopPostmaster(dir);
    if (primary) await stopPostmaster(primary.dataDir);
    await primary?.destroy();
    await etcd?.stop();
    for (const dir of [...replicaDirs, ...(primary ? [primary.dataDir] : [])]) liveDataDirs.delete(dir);
    if (failed) {
      // Keep the logs, drop the data directories.
      for (const dir of replicaDirs) rmSync(dir, { recursive: true, force: true });
    } else {
      rmSync(work, { recursive: true, force: true });
    }
  }
}

/** The value of every key under `prefix` (etcd's v3 JSON gateway), for the report; bounded by `timeoutMs`. */
async function readEtcdPrefix(endpoint: string, prefix: string, timeoutMs = 3000): Promise<Record<string, string>> {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const response = await fetch(`${endpoint}/v3/kv/range`, {
    method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }), signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { kvs?: { key: string; value?: string }[] };
  const text = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');
  return Object.fromEntries((body.kvs ?? []).map((kv) => [text(kv.key), text(kv.value)]));
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres OS user: the benchmark runs the servers as postgres');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
