import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisBackupError } from './redis-backup-error.js';

/** The redis-server binary restores start (DATAKEEP_REDIS_SERVER, else redis-server on the PATH). */
export function redisServerBinary(): string {
  return process.env.DATAKEEP_REDIS_SERVER ?? 'redis-server';
}

/** A redis-server started by a restore: on a private unix socket (scratch) or on a TCP port (a restored server). */
export interface StartedRedisServer {
  readonly pid: number;
  /** The unix socket (scratch servers) or undefined. */
  readonly socket: string | undefined;
  readonly port: number | undefined;
  /** SHUTDOWN SAVE or NOSAVE, then waits (bounded) for the process to exit. */
  shutdown(save: boolean): Promise<void>;
}

/**
 * Starts redis-server on `dir` (which holds or receives dump.rdb) and waits until it has loaded it and answers PING.
 * A scratch server (no `port`) listens only on a unix socket in a private temp directory: no port is taken, nobody
 * else can connect. With `port` the server is detached and left running (a restored server the caller asked for),
 * with a redis.conf in `dir` that starts it again.
 */
export async function startRedisServer(input: { dir: string; port?: number; timeoutMs: number }): Promise<StartedRedisServer> {
  const socketDir = input.port === undefined ? await mkdtemp(join(tmpdir(), 'dk-rs-')) : undefined;
  const socket = socketDir === undefined ? undefined : join(socketDir, 'redis.sock');
  const conf = await writeRedisConfig(input.dir, input.port === undefined ? 0 : input.port, socket === undefined ? [] : [`unixsocket ${socket}`, 'unixsocketperm 700', 'save ""']);
  const child: ChildProcess = spawn(redisServerBinary(), [conf], { stdio: 'ignore', detached: input.port !== undefined });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  if (input.port !== undefined) child.unref();
  const address = socket !== undefined ? { path: socket } : { host: '127.0.0.1', port: input.port! };
  const deadline = Date.now() + input.timeoutMs;
  let last = '';
  for (;;) {
    const state = await Promise.race([exited.then(() => 'exited'), ping(address).catch((e: Error) => `error: ${e.message}`)]);
    if (state === 'exited') {
      if (socketDir) await rm(socketDir, { recursive: true, force: true });
      throw new RedisBackupError('restore-failed', `redis-server (${redisServerBinary()}) exited while starting on ${input.dir}; see ${join(input.dir, 'redis-server.log')}`);
    }
    if (state.startsWith('+PONG')) break;
    last = state;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      if (socketDir) await rm(socketDir, { recursive: true, force: true });
      throw new RedisBackupError('timeout', `redis-server on ${input.dir} did not answer PING within ${input.timeoutMs} ms (last: ${last.trim().slice(0, 60)})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid!,
    socket,
    port: input.port,
    async shutdown(save: boolean) {
      await command(address, `SHUTDOWN ${save ? 'SAVE' : 'NOSAVE'}`).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([exited, new Promise((r) => {
        timer = setTimeout(() => r('timeout'), input.timeoutMs);
      })]);
      clearTimeout(timer);
      if (done === 'timeout') child.kill('SIGKILL');
      if (socketDir) await rm(socketDir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes `dir`/redis.conf for a server on the restored data set: its dump.rdb, no AOF, 127.0.0.1:`port` (0: no TCP),
 * plus `extra` lines. A restore left for the user to start gets one without the scratch server's private socket,
 * which is removed with its directory (a server started on that file would fail to open it and exit).
 */
export async function writeRedisConfig(dir: string, port: number, extra: readonly string[] = []): Promise<string> {
  const lines = [`dir ${dir}`, 'dbfilename dump.rdb', 'appendonly no', `port ${port}`, 'bind 127.0.0.1', ...extra, `logfile ${join(dir, 'redis-server.log')}`];
  const conf = join(dir, 'redis.conf');
  await writeFile(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
  return conf;
}

function ping(address: { path: string } | { host: string; port: number }): Promise<string> {
  return command(address, 'PING');
}

/** One inline command; the reply's first line (a server still loading answers -LOADING). */
function command(address: { path: string } | { host: string; port: number }, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(address);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('no reply'));
    }, 2000);
    let data = '';
    s.on('connect', () => s.write(`${line}\r\n`));
    s.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve(data);
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    s.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
