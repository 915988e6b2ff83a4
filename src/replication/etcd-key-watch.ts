import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { withTimeout } from '../resilience/with-timeout.js';

export interface KeyWatchHandlers {
  put?(kv: IKeyValue): void;
  delete?(kv: IKeyValue): void;
}

/**
 * A watch of one key, reconnected by etcd3 after an outage (it resumes from the last revision it saw). `connected`
 * settles true once etcd confirmed the watch, false if that took longer than `connectTimeoutMs`; the watch keeps
 * trying afterwards either way. `cancel()` is bounded: a watch whose etcd does not answer is dropped on reconnect.
 */
export class KeyWatch {
  readonly connected: Promise<boolean>;
  readonly #watcher: Watcher;
  #cancelled: Promise<void> | undefined;
  #stopWaiting: () => void = () => undefined;

  constructor(client: Etcd3, key: string, handlers: KeyWatchHandlers, options: { startRevision?: string; connectTimeoutMs: number }) {
    let builder = client.watch().key(key);
    if (options.startRevision !== undefined) builder = builder.startRevision(options.startRevision);
    // watcher(), not create(): create() gives no handle to cancel a watch that never connects.
    this.#watcher = builder.watcher();
    if (handlers.put) this.#watcher.on('put', (kv) => handlers.put!(kv));
    if (handlers.delete) this.#watcher.on('delete', (kv) => handlers.delete!(kv));
    // 'error' means etcd cancelled the watch (no permission, compacted revision); without a listener it would throw.
    this.#watcher.on('error', () => undefined);
    this.#watcher.on('disconnected', () => undefined);
    this.connected = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), options.connectTimeoutMs);
      this.#stopWaiting = () => {
        clearTimeout(timer);
        resolve(false);
      };
      this.#watcher.once('connected', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stops the watch; resolves within `timeoutMs` whether or not etcd acknowledged it. Idempotent. */
  cancel(timeoutMs = 1000): Promise<void> {
    this.#stopWaiting();
    this.#cancelled ??= withTimeout(() => this.#watcher.cancel(), timeoutMs, () => new Error('watch cancel unanswered')).catch(() => undefined);
    return this.#cancelled;
  }
}
