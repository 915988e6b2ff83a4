import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliCaptured } from '../support/cli-run.js';
import { freePort } from '../support/free-port.js';
import { ReplicatedPostgres } from '../support/replicated-postgres.js';
import { DataManager } from '../../src/index.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';

/**
 * `datakeep replication ...` used as a new user would, from docs/replication.md and docs/cli.md alone: a config file
 * with a `replication` section, replicas created by `replication setup` from empty data directories, then status,
 * dry runs, a failover by `host:port` with the primary up (a switchover), and a failover after the primary was
 * SIGKILLed. Every claim of the CLI is checked against the servers with psql-level queries.
 */
const SECRET = 'Not-In-Output-7f3a9c';

interface StatusJson { primary: string; nodes: { name: string; reachable: boolean; role?: string }[]; problems: string[] }
interface ResultJson { from: string; to: string; dryRun: boolean; steps: { step: string }[] }

describe('datakeep replication CLI on PostgreSQL (async, 3 members)', { timeout: 150_000 }, () => {
  let rp: ReplicatedPostgres;
  const work = mkdtempSync(join(tmpdir(), 'dk-replcli-'));
  const configFile = join(work, 'datakeep.config.json');
  let config: Record<string, unknown>;
  const node = (name: string): ReplicationNode => rp.nodes.find((n) => n.name === name)!;
  const run = (args: string[], file = configFile) => runCliCaptured(args, file);
  const inRecovery = async (n: ReplicationNode): Promise<boolean> => (await rp.query<{ r: boolean }>(n, 'SELECT pg_is_in_recovery() AS r'))[0]!.r;

  before(async () => {
    // The server trusts loopback, so the password below is never needed: it is there to be looked for in the output.
    rp = await ReplicatedPostgres.start({ name: 'replcli' });
    const [p1, p2] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    rp.nodes.push(rp.node('r1', p1, rp.replicaDataDir('r1')), rp.node('r2', p2, rp.replicaDataDir('r2')));
    config = {
      databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', password: SECRET, timeout: 2000 }],
      state: { dir: join(work, 'state') },
      logLevel: 'error',
      replication: {
        enabled: true,
        mode: 'async',
        failoverTimeout: 30000,
        primary: { name: 'p0', dataDir: rp.primary.dataDir },
        replicas: [1, 2].map((i) => ({ name: `r${i}`, type: 'postgresql', host: '127.0.0.1', port: node(`r${i}`).port, database: 'postgres', dataDir: node(`r${i}`).dataDir })),
      },
    };
    writeFileSync(configFile, JSON.stringify(config, null, 2));
  });

  after(async () => {
    await rp?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('setup creates both replicas from empty data directories; they stream from the primary', async () => {
    const { code, io } = await run(['replication', 'setup']);
    assert.equal(code, 0, io.stderr.join('\n'));
    assert.match(io.stdout.join('\n'), /created r1, r2/);
    assert.equal(await inRecovery(rp.primaryNode), false);
    assert.equal(await inRecovery(node('r1')), true);
    assert.equal(await inRecovery(node('r2')), true);
    const senders = await rp.query<{ n: string }>(rp.primaryNode, "SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1");
    assert.deepEqual(senders.map((s) => s.n), ['r1', 'r2']);
    await rp.query(rp.primaryNode, 'CREATE TABLE t (id int PRIMARY KEY)');
    await rp.query(rp.primaryNode, 'INSERT INTO t SELECT generate_series(1, 100)');
  });

  it('status --json lists every member with its role, exits 0, and never prints the password', async () => {
    const { code, io } = await run(['replication', 'status', '--json']);
    assert.equal(code, 0, io.stderr.join('\n'));
    const status = io.json<StatusJson>();
    assert.equal(status.primary, 'p0');
    assert.deepEqual(status.nodes.map((n) => `${n.name}:${n.role}`), ['p0:primary', 'r1:replica', 'r2:replica']);
    assert.deepEqual(status.problems, []);
    assert.ok(!(io.stdout.join('\n') + io.stderr.join('\n')).includes(SECRET), 'the password appears in the output');
  });

  it('switchover --dry-run and failover --dry-run --json say what would happen and change nothing', async () => {
    const text = await run(['replication', 'switchover', '--dry-run']);
    assert.equal(text.code, 0, text.io.stderr.join('\n'));
    assert.match(text.io.stdout.join('\n'), /would promote r\d in place of p0/);
    const json = await run(['replication', 'failover', '--dry-run', '--json']);
    assert.equal(json.code, 0, json.io.stderr.join('\n'));
    const plan = json.io.json<ResultJson>();
    assert.equal(plan.dryRun, true);
    assert.equal(plan.from, 'p0');
    assert.ok(plan.steps.some((s) => s.step === 'promote'));
    assert.ok(!json.io.stdout.join('\n').includes(SECRET));
    assert.equal(await inRecovery(rp.primaryNode), false, 'a dry run changed the primary');
    assert.equal(await inRecovery(node('r1')), true);
    assert.equal(await inRecovery(node('r2')), true);
  });

  it('failover to a member that does not exist is bad usage (exit 2) naming the members', async () => {
    const { code, io } = await run(['replication', 'failover', 'nosuch']);
    assert.match(io.stderr.join('\n'), /"nosuch" is not a member.*r1/);
    assert.equal(code, 2, 'docs/cli.md: 2 = bad usage or configuration; nothing was attempted');
  });

  it('a misspelt replication field is a configuration error (exit 2) naming the field', async () => {
    const misspelt = join(work, 'misspelt.json');
    const { failoverTimeout, ...rest } = config.replication as Record<string, unknown>;
    writeFileSync(misspelt, JSON.stringify({ ...config, replication: { ...rest, failoverTimout: failoverTimeout } }));
    const { code, io } = await run(['replication', 'status'], misspelt);
    assert.equal(code, 2, io.stdout.join('\n') + io.stderr.join('\n'));
    assert.match(io.stderr.join('\n'), /failoverTimout/);
  });

  it('failover 127.0.0.1:PORT with the primary up is a lossless switchover; the old primary rejoins read-only', async () => {
    const r1 = node('r1');
    const { code, io } = await run(['replication', 'failover', `127.0.0.1:${r1.port}`]);
    assert.equal(code, 0, io.stderr.join('\n'));
    assert.match(io.stdout.join('\n'), /promoted r1 in place of p0/);
    assert.equal(await inRecovery(r1), false);
    assert.equal((await rp.query<{ n: number }>(r1, 'SELECT count(*)::int AS n FROM t'))[0]!.n, 100);
    await rp.query(r1, 'INSERT INTO t VALUES (101)');
    assert.equal(await inRecovery(rp.primaryNode), true, 'the old primary p0 did not come back as a replica');
    await assert.rejects(rp.query(rp.primaryNode, 'INSERT INTO t VALUES (102)'), /read-only/);
    assert.equal(await inRecovery(node('r2')), true);
  });

  it('status from a fresh process finds the new primary and every member streaming from it', async () => {
    // runCli builds a new DataManager for every command: nothing of the failover's manager is shared.
    const deadline = Date.now() + 20_000;
    let status: StatusJson;
    do {
      const { io } = await run(['replication', 'status', '--json']);
      status = io.json<StatusJson>();
      if (status.problems.length === 0) break;
      await new Promise((r) => setTimeout(r, 300));
    } while (Date.now() < deadline);
    assert.equal(status.primary, 'r1');
    assert.deepEqual(status.nodes.map((n) => `${n.name}:${n.role}`), ['p0:replica', 'r1:primary', 'r2:replica']);
    assert.deepEqual(status.problems, []);
  });

  it('with the primary SIGKILLed, status exits 1 and still prints every member, the dead primary DOWN', async () => {
    await rp.kill(node('r1'));
    const { code, io } = await run(['replication', 'status', '--json']);
    assert.equal(code, 1, io.stderr.join('\n'));
    const status = io.json<StatusJson & { error?: unknown }>();
    assert.equal(status.error, undefined, `status failed instead of reporting: ${io.stderr.join('\n')}`);
    assert.deepEqual(status.nodes.map((n) => `${n.name}:${n.reachable}`).sort(), ['p0:true', 'r1:false', 'r2:true']);
    assert.ok(status.problems.some((p) => /r1.*unreachable/.test(p)), status.problems.join('; '));
  });

  it('with the primary SIGKILLed, failover promotes a replica that has every row, and the others follow it', async () => {
    const dry = await run(['replication', 'failover', '--dry-run']);
    assert.equal(dry.code, 0, `failover --dry-run with the primary down: ${dry.io.stderr.join('\n')}`);
    const { code, io } = await run(['replication', 'failover']);
    assert.equal(code, 0, `failover with the primary down: ${io.stderr.join('\n')}`);
    const promoted = /promoted (\S+) in place of r1/.exec(io.stdout.join('\n'))?.[1];
    assert.ok(promoted === 'p0' || promoted === 'r2', io.stdout.join('\n'));
    const other = promoted === 'p0' ? node('r2') : rp.primaryNode;
    assert.equal(await inRecovery(node(promoted)), false);
    assert.equal((await rp.query<{ n: number }>(node(promoted), 'SELECT count(*)::int AS n FROM t'))[0]!.n, 101);
    await rp.query(node(promoted), 'INSERT INTO t VALUES (200)');
    assert.equal(await inRecovery(other), true);
  });
});

/**
 * The config file's `password` (docs/replication.md's example has one) must reach PostgreSQL: a primary that
 * requires scram-sha-256 over TCP.
 */
describe('datakeep replication CLI with a password-protected primary', { timeout: 60_000 }, () => {
  let rp: ReplicatedPostgres;
  const work = mkdtempSync(join(tmpdir(), 'dk-replcli-pw-'));
  const configFile = join(work, 'datakeep.config.json');

  before(async () => {
    rp = await ReplicatedPostgres.start({ name: 'replclipw', password: SECRET });
    const port = await freePort('127.0.0.1');
    rp.nodes.push(rp.node('r1', port, rp.replicaDataDir('r1')));
    writeFileSync(configFile, JSON.stringify({
      databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', password: SECRET, timeout: 2000 }],
      state: { dir: join(work, 'state') },
      logLevel: 'error',
      replication: { enabled: true, mode: 'async', primary: { name: 'p0', dataDir: rp.primary.dataDir }, replicas: [{ name: 'r1', host: '127.0.0.1', port, dataDir: rp.nodes[1]!.dataDir }] },
    }));
  });

  after(async () => {
    await rp?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('setup logs in with the configured password, creates the replica, and prints no secret', async () => {
    const { code, io } = await runCliCaptured(['replication', 'setup', '--json'], configFile);
    const all = io.stdout.join('\n') + io.stderr.join('\n');
    assert.ok(!all.includes(SECRET), 'the password appears in the output');
    assert.equal(code, 0, all);
    assert.equal((await rp.query<{ r: boolean }>(rp.nodes[1]!, 'SELECT pg_is_in_recovery() AS r'))[0]!.r, true);
  });
});

/**
 * The primary the config file names (databases[0]) is SIGKILLed: the case `replication failover` exists for.
 * Sync mode, ANY 1 of r1, r2: with r2 down as well, only --force may promote r1 (docs/replication.md, Failover 1).
 */
describe('datakeep replication CLI when the configured primary is down (sync mode)', { timeout: 90_000 }, () => {
  let rp: ReplicatedPostgres;
  let r1: ReplicationNode;
  let r2: ReplicationNode;
  const work = mkdtempSync(join(tmpdir(), 'dk-replcli-down-'));
  const configFile = join(work, 'datakeep.config.json');
  const inRecovery = async (n: ReplicationNode): Promise<boolean> => (await rp.query<{ r: boolean }>(n, 'SELECT pg_is_in_recovery() AS r'))[0]!.r;

  before(async () => {
    rp = await ReplicatedPostgres.start({ name: 'replclidown' });
    [r1, r2] = (await rp.createReplicas(2)) as [ReplicationNode, ReplicationNode];
    writeFileSync(configFile, JSON.stringify({
      databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', timeout: 2000 }],
      state: { dir: join(work, 'state') },
      logLevel: 'error',
      replication: {
        enabled: true, mode: 'sync', failoverTimeout: 30000, primary: { name: 'p0', dataDir: rp.primary.dataDir },
        replicas: [r1, r2].map((r) => ({ name: r.name, type: 'postgresql', host: '127.0.0.1', port: r.port, database: 'postgres', dataDir: r.dataDir })),
      },
    }));
    const setup = await runCliCaptured(['replication', 'setup'], configFile);
    assert.equal(setup.code, 0, setup.io.stdout.join('\n') + setup.io.stderr.join('\n'));
    await rp.query(rp.primaryNode, 'CREATE TABLE t (id int PRIMARY KEY)');
    await rp.query(rp.primaryNode, 'INSERT INTO t SELECT generate_series(1, 10)');
    await rp.kill(rp.primaryNode);
  });

  after(async () => {
    await rp?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('status exits 1 (something is wrong, replicas reachable) and lists the members, p0 DOWN', async () => {
    const { code, io } = await runCliCaptured(['replication', 'status', '--json'], configFile);
    assert.equal(code, 1, `exit ${code}: ${io.stderr.join('\n')}`);
    const status = io.json<StatusJson>();
    assert.deepEqual(status.nodes.map((n) => `${n.name}:${n.reachable}`), ['p0:false', 'r1:true', 'r2:true']);
  });

  it('with r2 down too, failover is refused (exit 1) naming --force, and nothing is promoted', async () => {
    await rp.kill(r2);
    const { code, io } = await runCliCaptured(['replication', 'failover', 'r1'], configFile);
    assert.equal(await inRecovery(r1), true, 'r1 was promoted without --force');
    assert.match(io.stderr.join('\n'), /force/, `exit ${code}: ${io.stderr.join('\n')}`);
    assert.equal(code, 1);
  });

  it('failover r1 --force promotes r1 with every row', async () => {
    const { code, io } = await runCliCaptured(['replication', 'failover', 'r1', '--force'], configFile);
    assert.equal(code, 0, io.stderr.join('\n'));
    assert.equal(await inRecovery(r1), false);
    assert.equal((await rp.query<{ n: number }>(r1, 'SELECT count(*)::int AS n FROM t'))[0]!.n, 10);
  });
});

/**
 * The seed's exact call (docs/replication.md, "Setting it up") on a replica that already streams: replicas with
 * only type/host/port/database, so the member is named `host:port`, while the running replica's application_name is
 * whatever it was created with. In sync mode `synchronous_standby_names` then names no connected standby and every
 * commit waits; in async mode status reports a streaming replica as not streaming.
 */
describe("dm.setupReplication with the seed's exact example on an existing replica", { timeout: 60_000 }, () => {
  let rp: ReplicatedPostgres;
  let dm: DataManager;
  const work = mkdtempSync(join(tmpdir(), 'dk-replcli-seed-'));

  before(async () => {
    rp = await ReplicatedPostgres.start({ name: 'replcliseed' });
    await rp.createReplicas(1);
    dm = new DataManager({ config: { databases: [{ id: 'app', type: 'postgresql', host: '127.0.0.1', port: rp.primary.port, database: 'postgres', username: 'postgres', timeout: 2000 }], state: { dir: join(work, 'state') }, logLevel: 'error' } });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close().catch(() => undefined);
    await rp?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('setup succeeds, the streaming replica is reported streaming, and dm.failover(host:port) dry run names it', async () => {
    const r1 = rp.nodes[1]!;
    const streaming = await rp.query<{ n: string }>(rp.primaryNode, "SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming'");
    assert.equal(streaming.length, 1, 'the replica streams before setup');
    const result = await dm.setupReplication({
      enabled: true,
      mode: 'async',
      replicas: [{ type: 'postgresql', host: '127.0.0.1', port: r1.port, database: 'postgres' }],
      failoverTimeout: 30000,
    });
    const plan = await dm.failover(`127.0.0.1:${r1.port}`, { dryRun: true });
    assert.equal(plan.to, `127.0.0.1:${r1.port}`);
    assert.deepEqual(result.status.problems, [], 'a streaming replica is reported as not streaming');
  });
});
