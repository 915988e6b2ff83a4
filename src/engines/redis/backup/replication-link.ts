import { connect as connectTcp, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { EofMarkedPayload } from './eof-marked-payload.js';
import { RedisBackupError } from './redis-backup-error.js';
import { commandArgument, commandName, encodeCommand, respValueEnd } from './resp-scan.js';

/** Where and how to open a replication link (the password is never logged nor put in a message). */
export interface ReplicationEndpoint {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: ConnectionOptions;
  /** Limit on connecting and on each handshake reply. */
  readonly timeoutMs: number;
  /** Limit on silence from the master once synchronising (it sends a newline a second while it prepares the RDB,
   * and PINGs every repl-ping-replica-period, 10 s by default). Default 60 s, as repl-timeout. */
  readonly idleTimeoutMs?: number;
}

/** Whole commands of the replication stream as they arrived, with the local clock's time of arrival. */
export interface StreamBatch {
  /** Replication offset before the first byte, and after the last. */
  readonly start: number;
  readonly end: number;
  /** Milliseconds since the epoch when the bytes arrived. */
  readonly at: number;
  readonly bytes: Buffer;
}

export type SyncStart =
  | { readonly kind: 'full'; readonly replid: string; readonly offset: number; readonly at: Date; readonly rdb: Readable; readonly size: number | undefined }
  | { readonly kind: 'continue'; readonly replid: string; readonly offset: number; readonly at: Date };

type State = 'handshake' | 'rdb-header' | 'rdb' | 'stream' | 'closed';

/**
 * A replica's side of the Redis replication protocol (as `redis-cli --rdb` and redis-shake speak it): AUTH, REPLCONF,
 * PSYNC; then the RDB snapshot as a stream (`$<length>` or EOF-marked for diskless masters), then the command stream,
 * cut into batches of whole commands (a MULTI…EXEC block never split) stamped with the local clock. The link answers
 * REPLCONF GETACK and sends REPLCONF ACK every second, so the master keeps it and reports its lag.
 */
export class ReplicationLink {
  readonly #socket: Socket;
  readonly #endpoint: ReplicationEndpoint;
  #state: State = 'handshake';
  #pending: Buffer = Buffer.alloc(0);
  readonly #replies: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  #rdb: Readable | undefined;
  #rdbRemaining = 0;
  #eofPayload: EofMarkedPayload | undefined;
  #rdbStarted: ((rdb: { stream: Readable; size: number | undefined }) => void) | undefined;
  #offset = 0;
  #inTransaction = false;
  #onBatch: ((batch: StreamBatch) => void) | undefined;
  #ackTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  readonly #closeWaiters: ((error: Error | undefined) => void)[] = [];

  private constructor(socket: Socket, endpoint: ReplicationEndpoint) {
    this.#socket = socket;
    this.#endpoint = endpoint;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (error) => this.#fail(new RedisBackupError('connection-failed', `the replication link to ${where(endpoint)} failed: ${error.message}`, { cause: error })));
    socket.on('close', () => this.#fail(new RedisBackupError('connection-failed', `${where(endpoint)} closed the replication link${this.#state === 'stream' ? ` at offset ${this.#offset}` : ''}`)));
  }

  /** Connects, authenticates (when a password is given) and declares the replica's capabilities. */
  static async open(endpoint: ReplicationEndpoint): Promise<ReplicationLink> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const options = { host: endpoint.host, port: endpoint.port };
      const s: Socket = endpoint.tls ? connectTls({ ...endpoint.tls, ...options, servername: endpoint.tls.servername ?? serverName(endpoint.host) }) : connectTcp(options);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new RedisBackupError('timeout', `could not connect to ${where(endpoint)} within ${endpoint.timeoutMs} ms; check that the server runs and the address is right`));
      }, endpoint.timeoutMs);
      s.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(new RedisBackupError('connection-failed', `could not connect to ${where(endpoint)}: ${error.message}; check that the server runs and the address is right`, { cause: error }));
      });
    });
    socket.setNoDelay(true);
    const link = new ReplicationLink(socket, endpoint);
    try {
      if (endpoint.password !== undefined) {
        const args = endpoint.username !== undefined ? ['AUTH', endpoint.username, endpoint.password] : ['AUTH', endpoint.password];
        const reply = await link.#command(args, 'AUTH');
        if (!reply.startsWith('+')) throw new RedisBackupError('connection-failed', `${where(endpoint)} refused the credentials (${firstWord(reply)}); check the username and password of this database`);
      }
      const capa = await link.#command(['REPLCONF', 'capa', 'eof', 'capa', 'psync2'], 'REPLCONF capa');
      if (!capa.startsWith('+')) throw new RedisBackupError('protocol', `${where(endpoint)} refused REPLCONF capa (${capa.trim()}); the user needs the replication permission (+psync +replconf)`);
      return link;
    } catch (error) {
      link.close();
      throw error;
    }
  }

  /**
   * PSYNC: with no position, or one the master's backlog no longer holds, a full resynchronisation whose RDB is
   * returned as a stream (read it to its end before anything else); otherwise the stream continues from `position`.
   * `rdbOnly` tells the master (Redis 7+) that no command stream will be read after the RDB.
   */
  async sync(position: { replid: string; offset: number } | undefined, options: { rdbOnly?: boolean } = {}): Promise<SyncStart> {
    if (options.rdbOnly) await this.#command(['REPLCONF', 'rdb-only', '1'], 'REPLCONF rdb-only'); // older servers refuse it: harmless
    const rdbStarted = new Promise<{ stream: Readable; size: number | undefined }>((resolve) => {
      this.#rdbStarted = resolve;
    });
    const reply = await this.#command(['PSYNC', position?.replid ?? '?', String(position === undefined ? -1 : position.offset + 1)], 'PSYNC');
    const at = new Date();
    const words = reply.trim().split(' ');
    if (words[0] === '+FULLRESYNC' && words.length === 3) {
      this.#offset = Number(words[2]);
      this.#state = 'rdb-header';
      this.#armIdle();
      // Bytes after the reply line in the same read are the payload's start.
      this.#drainHandshakeTail();
      const rdb = await Promise.race([rdbStarted, this.closed().then((error) => {
        throw error ?? new RedisBackupError('connection-failed', 'the replication link was closed before the RDB started');
      })]);
      return { kind: 'full', replid: words[1]!, offset: Number(words[2]), at, rdb: rdb.stream, size: rdb.size };
    }
    if (words[0] === '+CONTINUE' && position !== undefined) {
      this.#offset = position.offset;
      this.#beginStream();
      return { kind: 'continue', replid: words[1] ?? position.replid, offset: position.offset, at };
    }
    throw new RedisBackupError('protocol', `${where(this.#endpoint)} answered PSYNC with ${JSON.stringify(reply.trim().slice(0, 80))}; a replica whose own master is down, or a server still loading, cannot be backed up now`);
  }

  /** Receives the command stream's batches (after the RDB was read, or after a CONTINUE). */
  onBatch(handler: (batch: StreamBatch) => void): void {
    this.#onBatch = handler;
    this.#emitBatches();
  }

  /** The replication offset after the last whole command received. */
  get offset(): number {
    return this.#offset;
  }

  /** Stops reading from the socket (backpressure from a slow repository); resume() restarts it. */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Resolves when the link is closed: with the error that ended it, or undefined after close(). */
  closed(): Promise<Error | undefined> {
    if (this.#state === 'closed') return Promise.resolve(this.#failure);
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  close(): void {
    this.#finish(undefined);
    this.#socket.destroy();
  }

  #command(args: readonly string[], label: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisBackupError('timeout', `${where(this.#endpoint)} did not answer ${label} within ${this.#endpoint.timeoutMs} ms`));
        this.close();
      }, this.#endpoint.timeoutMs);
      this.#replies.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.write(encodeCommand(...args));
    });
  }

  #receive(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#armIdle();
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    try {
      this.#advance();
    } catch (error) {
      this.#fail(error instanceof RedisBackupError ? error : new RedisBackupError('protocol', `the replication stream from ${where(this.#endpoint)} is out of step: ${(error as Error).message}`, { cause: error }));
      this.#socket.destroy();
    }
  }

  #advance(): void {
    if (this.#state === 'handshake') this.#drainHandshakeTail();
    if (this.#state === 'rdb-header') this.#readRdbHeader();
    if (this.#state === 'rdb') this.#pumpRdb();
    if (this.#state === 'stream') this.#emitBatches();
  }

  #drainHandshakeTail(): void {
    while (this.#state === 'handshake' && this.#replies.length > 0) {
      const end = this.#pending.indexOf('\r\n');
      if (end < 0) return;
      const line = this.#pending.toString('latin1', 0, end);
      this.#pending = this.#pending.subarray(end + 2);
      this.#replies.shift()!.resolve(line);
    }
    if (this.#state === 'rdb-header' && this.#pending.length > 0) this.#advance();
  }

  #readRdbHeader(): void {
    // While it forks and writes the RDB the master sends a newline now and then to keep the link alive.
    let start = 0;
    while (start < this.#pending.length && this.#pending[start] === 0x0a) start += 1;
    this.#pending = this.#pending.subarray(start);
    const end = this.#pending.indexOf('\r\n');
    if (end < 0) return;
    const line = this.#pending.toString('latin1', 0, end);
    this.#pending = this.#pending.subarray(end + 2);
    if (line.startsWith('$EOF:') && line.length === 45) {
      this.#eofPayload = new EofMarkedPayload(Buffer.from(line.slice(5), 'latin1'));
    } else if (/^\$\d+$/.test(line)) {
      this.#rdbRemaining = Number(line.slice(1));
    } else {
      throw new RedisBackupError('protocol', `expected the RDB payload's header after +FULLRESYNC, got ${JSON.stringify(line.slice(0, 40))}`);
    }
    this.#rdb = new Readable({ read: () => this.#socket.resume(), highWaterMark: 4 * 1024 * 1024 });
    this.#state = 'rdb';
    this.#rdbStarted?.({ stream: this.#rdb, size: this.#eofPayload === undefined ? this.#rdbRemaining : undefined });
  }

  #pumpRdb(): void {
    const rdb = this.#rdb!;
    let body: Buffer[];
    let done: boolean;
    if (this.#eofPayload === undefined) {
      const take = Math.min(this.#rdbRemaining, this.#pending.length);
      body = [this.#pending.subarray(0, take)];
      this.#pending = this.#pending.subarray(take);
      this.#rdbRemaining -= take;
      done = this.#rdbRemaining === 0;
    } else {
      // Nothing stays in #pending between reads here, so the next read is not joined (copied) onto a held tail.
      const { payload, after } = this.#eofPayload.push(this.#pending);
      body = payload;
      this.#pending = after ?? Buffer.alloc(0);
      done = after !== undefined;
    }
    let full = false;
    for (const piece of body) if (piece.length > 0 && !rdb.push(piece)) full = true;
    if (full) this.#socket.pause();
    if (done) {
      rdb.push(null);
      // A paused socket is resumed by the RDB's reads; after its end nothing reads it, and the stream must flow.
      this.#socket.resume();
      this.#beginStream();
    }
  }

  #beginStream(): void {
    this.#state = 'stream';
    // A diskless master starts the command stream only after the replica's first ACK.
    this.#ack();
    this.#ackTimer = setInterval(() => this.#ack(), 1000);
    this.#ackTimer.unref();
  }

  #emitBatches(): void {
    if (this.#state !== 'stream' || this.#onBatch === undefined || this.#pending.length === 0) return;
    const buf = this.#pending;
    let pos = 0;
    let cut = 0;
    let acks = 0;
    for (;;) {
      const end = respValueEnd(buf, pos);
      if (end < 0) break;
      const name = commandName(buf, pos);
      if (name === 'MULTI') this.#inTransaction = true;
      else if (name === 'EXEC' || name === 'DISCARD') this.#inTransaction = false;
      else if (name === 'REPLCONF' && commandArgument(buf, pos, 1).toUpperCase() === 'GETACK') acks += 1;
      pos = end;
      if (!this.#inTransaction) cut = pos;
    }
    if (cut === 0) return;
    const batch: StreamBatch = { start: this.#offset, end: this.#offset + cut, at: Date.now(), bytes: Buffer.from(buf.subarray(0, cut)) };
    this.#offset = batch.end;
    this.#pending = buf.subarray(cut);
    this.#onBatch(batch);
    if (acks > 0) this.#ack();
  }

  #ack(): void {
    if (this.#state === 'stream') this.#socket.write(encodeCommand('REPLCONF', 'ACK', String(this.#offset)));
  }

  #armIdle(): void {
    if (this.#state === 'handshake' || this.#state === 'closed') return;
    // Re-armed on every read: refresh() restarts the running timer instead of allocating a new one each time.
    if (this.#idleTimer !== undefined) {
      this.#idleTimer.refresh();
      return;
    }
    const limit = this.#endpoint.idleTimeoutMs ?? 60_000;
    this.#idleTimer = setTimeout(() => {
      this.#fail(new RedisBackupError('timeout', `${where(this.#endpoint)} sent nothing on the replication link for ${limit} ms`));
      this.#socket.destroy();
    }, limit);
    this.#idleTimer.unref();
  }

  #fail(error: Error): void {
    if (this.#state === 'closed') return;
    this.#finish(error);
  }

  #finish(error: Error | undefined): void {
    if (this.#state === 'closed') return;
    const wasRdb = this.#state === 'rdb' || this.#state === 'rdb-header';
    this.#state = 'closed';
    this.#failure = error;
    clearInterval(this.#ackTimer);
    clearTimeout(this.#idleTimer);
    for (const reply of this.#replies.splice(0)) reply.reject(error ?? new RedisBackupError('connection-failed', 'the replication link was closed'));
    if (wasRdb && this.#rdb && !this.#rdb.readableEnded) this.#rdb.destroy(error ?? new RedisBackupError('connection-failed', 'the replication link was closed during the RDB transfer'));
    for (const waiter of this.#closeWaiters.splice(0)) waiter(error);
  }
}

function where(endpoint: { host: string; port: number }): string {
  return `${endpoint.host}:${endpoint.port}`;
}

function firstWord(reply: string): string {
  return reply.trim().split(' ')[0]!.replace(/^-/, '');
}

/** SNI takes host names only: an IP address gets none. */
function serverName(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}
