import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { RedisAdapter } from '../../src/engines/redis/redis-adapter.js';
import { redactingLogger } from '../../src/util/logger.js';
import { replaceFile } from '../support/replace-file.js';
import { CapturedLog, rotated } from '../support/captured-log.js';
import { rawCommand, ThrowawayRedis, waitFor } from '../support/throwaway-redis.js';

/**
 * Rotating a Redis password without a restart: a redis-server of its own with requirepass, a passwordFile,
 * CONFIG SET requirepass, the file replaced. A WATCH transaction (a dedicated connection) runs through the rotation.
 */
describe('Redis: a rotated passwordFile', { timeout: 60_000 }, () => {
  const OLD = 'Old-Pw-2Rk#1';
  const NEW = 'New-Pw-6Yh@2';
  let server: ThrowawayRedis;
  let dir: string;
  let file: string;
  let adapter: RedisAdapter;
  const log = new CapturedLog();

  const writePassword = (text: string) => replaceFile(file, text);
  /** One command on a fresh connection that authenticates with `password` first; the reply of the command. */
  const asUser = async (password: string, command: string) => {
    const reply = await rawCommand(server.port, `AUTH ${password}\r\n${command}`);
    return reply.replace(/^\+OK\r\n/, '');
  };
  /** Ids of the adapter's connections (they carry its applicationName) on the server. */
  const adapterClients = async (password: string) =>
    (await asUser(password, 'CLIENT LIST'))
      .split('\n')
      .filter((line) => line.includes(' name=datakeep '))
      .map((line) => Number(/\bid=(\d+)/.exec(line)![1]));

  before(async () => {
    server = await ThrowawayRedis.start({ name: 'redis-rotate', config: [`requirepass ${OLD}`] });
    dir = mkdtempSync(join(tmpdir(), 'dk-redispw-'));
    file = join(dir, 'redis-password');
    writeFileSync(file, `${OLD}\n`);
    const config = resolveDatabaseConfig({ type: 'redis', host: '127.0.0.1', port: server.port, passwordFile: file }, 'databases[0]');
    adapter = new RedisAdapter(config, { logger: redactingLogger(log) });
    await adapter.connect();
  });
  after(async () => {
    await adapter?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving across CONFIG SET requirepass and a new file: the command connection re-authenticates, a WATCH in flight commits, reconnects use the new password', async () => {
    await adapter.command(['SET', 'rotation:counter', '1']);
    let resume!: () => void;
    let begun!: () => void;
    const gate = new Promise<void>((resolve) => (resume = resolve));
    const watching = new Promise<void>((resolve) => (begun = resolve));
    const transaction = adapter.watch(['rotation:counter'], async (ctx) => {
      const current = Number(await ctx.command(['GET', 'rotation:counter']));
      begun();
      await gate;
      ctx.queue(['SET', 'rotation:counter', String(current + 1)]);
      return current + 1;
    });
    await watching;
    const before = await adapterClients(OLD);
    assert.equal(before.length, 2, 'the command connection and the WATCH connection');

    await asUser(OLD, `CONFIG SET requirepass ${NEW}`);
    assert.match(await asUser(OLD, 'PING'), /WRONGPASS/, 'the server refuses the old password now');
    writePassword(`${NEW}\n`);
    await log.waitFor(rotated('redis-127.0.0.1-0'), 'the adapter re-authenticating');

    assert.equal(await adapter.command(['INCR', 'rotation:other']), 1);
    resume();
    const result = await transaction;
    assert.deepEqual(result.replies, ['OK'], 'the WATCH transaction committed on its pre-rotation connection');
    assert.equal(await adapter.command(['GET', 'rotation:counter']), '2');
    // Released, the WATCH connection of before is closed; the next WATCH gets a connection made with the new password.
    await waitFor(async () => (await adapterClients(NEW)).length === 1, 10_000, 'the pre-rotation WATCH connection to close');
    await adapter.watch(['rotation:counter'], async (ctx) => {
      ctx.queue(['SET', 'rotation:counter', '3']);
    });
    const afterWatch = await adapterClients(NEW);
    assert.ok(afterWatch.some((id) => !before.includes(id)), 'a WATCH connection opened after the rotation');

    // The command connection, cut by the server, comes back with the new password.
    const [main] = (await adapterClients(NEW)).filter((id) => before.includes(id));
    assert.ok(main !== undefined, 'the command connection survived the rotation');
    await asUser(NEW, `CLIENT KILL ID ${main}`);
    await waitFor(async () => (await adapter.command(['GET', 'rotation:counter'])) === '3', 10_000, 'commands to work after the reconnect');
    assert.ok(!(await adapterClients(NEW)).includes(main), 'a new command connection');
  });

  it('no password appears in any log line', () => {
    assert.ok(log.lines.length > 0);
    for (const secret of [OLD, NEW]) assert.ok(!log.text().includes(secret));
  });
});
