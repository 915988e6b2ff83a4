import { Writable } from 'node:stream';
import type { PgConnection } from './pg-copy-out.js';

/**
 * `COPY ... FROM STDIN` as a Writable submitted to a pg Client as a query object. Writes wait for the server to ask
 * for data (CopyInResponse); the stream finishes only when the server has confirmed the COPY (ReadyForQuery), so a
 * rejected row surfaces as this stream's error, never as a silent short table.
 */
export class PgCopyIn extends Writable {
  #connection: PgConnection | undefined;
  #ready: (() => void) | undefined;
  readonly #accepting: Promise<void>;
  #done: ((error?: Error | null) => void) | undefined;
  #error: Error | undefined;
  callback: ((error?: Error) => void) | undefined;

  constructor(private readonly text: string) {
    super({ highWaterMark: 1 << 20 });
    this.#accepting = new Promise((resolve) => {
      this.#ready = resolve;
    });
  }

  submit(connection: PgConnection): void {
    this.#connection = connection;
    connection.query(this.text);
  }

  handleCopyInResponse(): void {
    this.#ready?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#accepting.then(() => {
      if (this.#error) return callback(this.#error);
      const socket = this.#connection!.stream;
      const flushed = socket.write === undefined;
      this.#connection!.sendCopyFromChunk(chunk);
      // The socket's own buffer gives the backpressure: wait for it to drain when it is full.
      if (flushed || (socket as { writableNeedDrain?: boolean }).writableNeedDrain !== true) callback();
      else socket.once!('drain', () => callback());
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#accepting.then(() => {
      if (this.#error) return callback(this.#error);
      this.#done = callback;
      this.#connection!.endCopyFrom();
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A source that failed mid-way: tell the server, which then rolls the COPY back.
    if (error && this.#connection && this.#done === undefined && this.#error === undefined) {
      this.#accepting.then(() => this.#connection!.sendCopyFail(error.message.slice(0, 200)), () => undefined);
    }
    callback(error);
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  handleError(error: Error): void {
    this.#error = error;
    // The server refused before asking for data (a bad table name): let pending writes see the error.
    this.#ready?.();
  }

  handleReadyForQuery(): void {
    const done = this.#done;
    this.#done = undefined;
    if (done) done(this.#error ?? null);
    else if (this.#error) this.destroy(this.#error);
    this.callback?.(this.#error);
  }
}
