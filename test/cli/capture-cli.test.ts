import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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
 * before it exits 0: a write made less than the storing interval before the signal is in the repository.
 */
describe('datakeep backup capture (CLI)', () => {
  let redis: ThrowawayRedis;
  let stateDb: TestDatabase;
  let work: string;
  let configFile: string;
  let passphraseFile: string;

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
    await redis?.stop();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints progress, and on SIGINT stores what arrived, prints a summary and exits 0', async () => {
    const [node, ...args] = datakeepCommandLine();
    // A long interval: the last write can only be stored by the stop itself.
    const child = spawn(node!, [...args, 'backup', 'capture', '--database', 'cache', '--interval', '30', '--config', configFile], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const client = new Redis({ host: redis.host, port: redis.port });
    try {
      // The snapshot stored (the note says so): a write now reaches the repository through the stream only.
      await waitFor(async () => /stored as full backup/.test(stderr), 60_000, `the CLI's first snapshot stored (stderr: ${stderr})`);
      await client.set('last', 'written just before Ctrl-C');
      // What the stop must store is what has arrived: on a loaded machine the master's stream can take longer than
      // half a second to reach the link (seen at load 7), so give it 2 s, still far inside the 30 s interval.
      await new Promise((r) => setTimeout(r, 2000));
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000))]);
      if (code === 'late') child.kill('SIGKILL');
      assert.equal(code, 0, `stdout: ${stdout}\nstderr: ${stderr}`);
    } finally {
      client.disconnect();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    assert.match(stderr, /capturing cache into /);
    assert.match(stderr, /stopping: storing what arrived/);
    assert.match(stdout, /cache: stopped; [1-9]\d* piece\(s\) stored/, `stderr: ${stderr}`);

    const dm = new DataManager({ config: { databases: [{ ...redis.config, id: 'cache' }], state: { url: stateDb.url }, logLevel: 'error' } });
    const to = join(work, 'restore');
    try {
      await dm.restoreBackup(undefined, { destination: join(work, 'backups'), passphraseFile, to });
    } finally {
      await dm.close();
    }
    const port = await freePort();
    const server = await startRedisServer({ dir: to, port, timeoutMs: 30_000 });
    const copy = new Redis({ host: '127.0.0.1', port });
    try {
      assert.equal(await copy.get('last'), 'written just before Ctrl-C');
    } finally {
      copy.disconnect();
      await server.shutdown(false);
    }
  });
});
