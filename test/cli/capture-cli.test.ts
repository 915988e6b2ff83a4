import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { DataManager } from '../../src/index.js';
import { startRedisServer } from '../../src/engines/redis/backup/scratch-redis-server.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ThrowawayRedis, waitFor } from '../support/throwaway-redis.js';

/**
 * `datakeep backup capture` in the foreground: progress lines on stderr, and Ctrl-C (SIGINT) stores what arrived
 * before it exits 0: a write made less than the storing interval before the signal is in the repository. Then two of
 * them for one database and destination (two service instances, or the service and an operator's CLI): the second
 * stands by naming the first, and takes over when the first is SIGKILLed, with no gap in the stream.
 */
describe('datakeep backup capture (CLI)', () => {
  let redis: ThrowawayRedis;
  let stateDb: TestDatabase;
  let work: string;
  let configFile: string;
  let passphraseFile: string;
  const children: ChildProcess[] = [];

  before(async () => {
    [redis, stateDb] = await Promise.all([ThrowawayRedis.start({ name: 'cli-logcap', config: ['repl-diskless-sync-delay 0'] }), createTestDatabase('dk_cli_logcap')]);
    work = mkdtempSync(join(tmpdir(), 'dk-cli-logcap-'));
    passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, `cli log capture ${process.pid}\n`, { mode: 0o600 });
    configFile = join(work, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({
      databases: [{ ...redis.config, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error',
      backups: { destination: join(work, 'backups'), passphraseFile },
    }));
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await redis?.stop();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints progress, and on SIGINT stores what arrived, prints a summary and exits 0', async () => {
    // A long interval: the last write can only be stored by the stop itself.
    const { child, out } = capture(30);
    const client = new Redis({ host: redis.host, port: redis.port });
    try {
      // The snapshot stored (the note says so): a write now reaches the repository through the stream only.
      await until(out, /stored as full backup/, 60_000, "the CLI's first snapshot stored");
      await client.set('last', 'written just before Ctrl-C');
      // The stop reads the stream up to the master's offset at that moment: a write acknowledged just before Ctrl-C is
      // stored even when the stream has not reached the link yet (at load 7 it once took over half a second).
      child.kill('SIGINT');
      const code = await Promise.race([out.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000))]);
      assert.equal(code, 0, `stdout: ${out.stdout}\nstderr: ${out.stderr}`);
    } finally {
      client.disconnect();
    }
    assert.match(out.stderr, /capturing cache into /);
    assert.match(out.stderr, /stopping: storing what arrived/);
    assert.match(out.stdout, /cache: stopped; [1-9]\d* piece\(s\) stored/, `stderr: ${out.stderr}`);
    assert.deepEqual(await restoredValues('restore', 'last'), ['written just before Ctrl-C']);
  });

  /** Restores the newest state of the repository into a scratch redis-server and reads `keys` there. */
  const restoredValues = async (to: string, ...keys: string[]): Promise<(string | null)[]> => {
    const dm = new DataManager({ config: { databases: [{ ...redis.config, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error' } });
    try {
      await dm.restoreBackup(undefined, { destination: join(work, 'backups'), passphraseFile, to: join(work, to) });
    } finally {
      await dm.close();
    }
    const port = await freePort();
    const server = await startRedisServer({ dir: join(work, to), port, timeoutMs: 30_000 });
    const copy = new Redis({ host: '127.0.0.1', port });
    try {
      return await copy.mget(...keys);
    } finally {
      copy.disconnect();
      await server.shutdown(false);
    }
  };

  const capture = (intervalSeconds: number) => {
    const [node, ...args] = datakeepCommandLine();
    const child = spawn(node!, [...args, 'backup', 'capture', '--database', 'cache', '--interval', String(intervalSeconds), '--config', configFile], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const out = { stdout: '', stderr: '', exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) };
    child.stdout!.on('data', (b: Buffer) => (out.stdout += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => (out.stderr += b.toString('utf8')));
    return { child, out };
  };

  /** Waits for a line on a child's stderr; a timeout shows what the child printed. */
  const until = async (out: { stderr: string }, line: RegExp, ms: number, what: string) => {
    await waitFor(async () => line.test(out.stderr), ms, what).catch((error: Error) => {
      throw new Error(`${error.message}; its stderr: ${out.stderr}`);
    });
  };

  it('the second process stands by naming the first, takes over when the first is SIGKILLed, and nothing is lost', async () => {
    const client = new Redis({ host: redis.host, port: redis.port });
    try {
      const first = capture(1);
      // The repository already holds the first test's stream: this capture continues it.
      await until(first.out, /cache: running: [1-9]\d* piece\(s\) stored/, 60_000, 'the first capture storing');
      await client.set('before', 'captured by the first process');
      const second = capture(1);
      await until(second.out, /cache: standby: pid \d+ on \S+ captures it since/, 60_000, 'the second capture on standby');
      assert.match(second.out.stderr, new RegExp(`standby: pid ${first.child.pid} on `), 'the standby names the holder');
      assert.doesNotMatch(second.out.stderr, /failed/, 'standing by is not a failure');
      // The first stores the write within its 1 s interval; then it dies without storing anything more.
      await new Promise((r) => setTimeout(r, 2500));
      first.child.kill('SIGKILL');
      await first.out.exited;
      const killedAt = Date.now();
      await client.set('between', 'written while nobody captured');
      await until(second.out, /standby:[\s\S]*cache: running/, 30_000, 'the second capture to take over');
      console.log(`took over ${Date.now() - killedAt} ms after the SIGKILL (standby poll 5 s)`);
      await client.set('after', 'captured by the second process');
      await new Promise((r) => setTimeout(r, 2500));
      second.child.kill('SIGINT');
      const code = await Promise.race([second.out.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000))]);
      assert.equal(code, 0, `stdout: ${second.out.stdout}\nstderr: ${second.out.stderr}`);
      assert.match(second.out.stdout, /cache: stopped; [1-9]\d* piece\(s\) stored/);
    } finally {
      client.disconnect();
    }

    assert.deepEqual(await restoredValues('restore-after-takeover', 'before', 'between', 'after'), ['captured by the first process', 'written while nobody captured', 'captured by the second process']);
  });
});
