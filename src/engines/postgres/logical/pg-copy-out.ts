import { Readable } from 'node:stream';
import type { CopyOutStream } from './logical-session.js';

/** The slice of node-postgres' connection a COPY stream drives (pg has no public COPY API; this is its query hook). */
interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  readonly stream: { pause(): void; resume(): void; write?(data: Buffer): boolean; once?(event: string, fn: () => void): void };
}

const BATCH = 256 << 10;

/**
 * `COPY ... TO STDOUT` as a Readable, submitted to a pg Client as a query object (pg calls `submit` and the
 * `handle*` hooks while the query is the active one). Backpressure pauses the socket, so a table larger than memory
 * streams through in constant space.
 */
export class PgCopyOut extends Readable implements CopyOutStream {
  #connection: PgConnection | undefined;
  #paused = false;
  /** Set by pg.Client.query when it is given a callback; unused (the stream's events say everything). */
  callback: ((error?: Error) => void) | undefined;

  /** The rows COPY reported sending (its command tag), once it has. */
  rowCount: number | undefined;

  constructor(private readonly text: string, private readonly onBytes?: (bytes: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }

  submit(connection: PgConnection): void {
    this.#connection = connection;
    connection.query(this.text);
  }

  /**
   * The server sends one CopyData message per row. Each is a view into pg's receive buffer, which the next socket read
   * may overwrite, so rows are copied into a batch of BATCH bytes, and whole batches go downstream: one push per
   * ~256 KiB rather than per row.
   */
  handleCopyData(message: { chunk: Buffer }): void {
    const chunk = message.chunk;
    if (this.#used + chunk.length > this.#batch.length) this.#flush();
    if (chunk.length > this.#batch.length) {
      this.#send(Buffer.from(chunk));
      return;
    }
    chunk.copy(this.#batch, this.#used);
    this.#used += chunk.length;
  }

  #batch = Buffer.allocUnsafe(BATCH);
  #used = 0;

  #flush(): void {
    if (this.#used === 0) return;
    const full = this.#batch.subarray(0, this.#used);
    this.#batch = Buffer.allocUnsafe(BATCH);
    this.#used = 0;
    this.#send(full);
  }

  #send(bytes: Buffer): void {
    this.onBytes?.(bytes.length);
    if (!this.push(bytes) && !this.#paused) {
      this.#paused = true;
      this.#connection?.stream.pause();
    }
  }

  override _read(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#connection?.stream.resume();
    }
  }

  handleCommandComplete(message: { text?: string }): void {
    const count = /^COPY (\d+)$/.exec(message.text ?? '');
    if (count) this.rowCount = Number(count[1]);
  }
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail('datakeep expected COPY TO STDOUT');
  }

  handleError(error: Error): void {
    this.#resume();
    this.destroy(error);
  }

  handleReadyForQuery(): void {
    if (!this.destroyed) {
      this.#flush();
      this.push(null);
    }
    // After the end no _read comes to resume the socket: a pause left by the last push would stall the connection.
    this.#resume();
    this.callback?.();
  }

  #resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#connection?.stream.resume();
    }
  }
}

export type { PgConnection };
