import { connect, type Socket } from 'node:net';
import type { Repository } from '../../../repository/repository-types.js';
import { RedisBackupError } from './redis-backup-error.js';
import { commandName, respValueEnd } from './resp-scan.js';
import { readSegment, type StreamRun } from './stream-log.js';

export interface ReplayResult {
  readonly commands: number;
  readonly segments: number;
  /** Arrival time (ms) of the last batch replayed, and the offset after it. */
  readonly lastAt: number | undefined;
  readonly offset: number;
}

/**
 * Replays the captured stream of `run` into a server (a scratch one, on its unix socket), from the base backup's
 * offset (commands at or before it are in the RDB) through the last batch that arrived at or before `targetMs`.
 * Commands go as the master sent them (SELECT, MULTI/EXEC blocks whole), pipelined with a bounded backlog of
 * unanswered commands; REPLCONF (the master's GETACK) is not replayed. Any error reply fails the replay.
 */
export async function replayStream(input: { repository: Repository; run: StreamRun; baseOffset: number; targetMs: number | undefined; socket: string; timeoutMs: number }): Promise<ReplayResult> {
  const connection = await open(input.socket);
  const replies = new ReplyCounter(connection, input.timeoutMs);
  let commands = 0;
  let segments = 0;
  let lastAt: number | undefined;
  let offset = input.baseOffset;
  try {
    outer: for (const segment of input.run.segments) {
      const { batches } = await readSegment(input.repository, segment);
      segments += 1;
      for (const batch of batches) {
        if (batch.end <= offset) continue;
        if (input.targetMs !== undefined && batch.at > input.targetMs) break outer;
        let pos = 0;
        while (pos < batch.bytes.length) {
          const end = respValueEnd(batch.bytes, pos);
          if (end < 0) throw new RedisBackupError('stream-gap', `segment ${segment.name} holds a partial command at offset ${batch.start + pos}`);
          if (batch.start + pos >= offset && commandName(batch.bytes, pos) !== 'REPLCONF') {
            if (!connection.write(batch.bytes.subarray(pos, end))) await new Promise((r) => connection.once('drain', r));
            commands += 1;
            await replies.allowAhead(commands);
          }
          pos = end;
        }
        offset = batch.end;
        lastAt = batch.at;
      }
    }
    await replies.waitFor(commands);
    return { commands, segments, lastAt, offset };
  } finally {
    connection.destroy();
  }
}

/** Counts top-level replies as they arrive and remembers the first error reply. */
class ReplyCounter {
  #count = 0;
  #buffer: Buffer = Buffer.alloc(0);
  #error: string | undefined;
  #closed: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: Socket, private readonly timeoutMs: number) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      let pos = 0;
      for (;;) {
        const end = respValueEnd(this.#buffer, pos);
        if (end < 0) break;
        if (this.#buffer[pos] === 0x2d) this.#error ??= this.#buffer.toString('utf8', pos + 1, end - 2);
        this.#count += 1;
        pos = end;
      }
      this.#buffer = this.#buffer.subarray(pos);
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#closed = new RedisBackupError('restore-failed', 'the scratch redis-server closed the replay connection');
      this.#wake?.();
    });
  }

  /** Keeps at most 10,000 commands unanswered: memory stays bounded whatever the stream's length. */
  async allowAhead(sent: number): Promise<void> {
    if (sent - this.#count > 10_000) await this.waitFor(sent - 5_000);
    this.#check();
  }

  async waitFor(count: number): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.#count < count) {
      this.#check();
      const left = deadline - Date.now();
      if (left <= 0) throw new RedisBackupError('timeout', `the scratch redis-server answered ${this.#count} of ${count} replayed commands within ${this.timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#check();
  }

  #check(): void {
    if (this.#error !== undefined) throw new RedisBackupError('restore-failed', `replaying the captured stream failed: the server answered "${this.#error.slice(0, 200)}"`);
    if (this.#closed && this.#count === 0) throw this.#closed;
  }
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    s.once('connect', () => resolve(s));
    s.once('error', (error) => reject(new RedisBackupError('restore-failed', `could not connect to the scratch redis-server: ${error.message}`, { cause: error })));
  });
}
