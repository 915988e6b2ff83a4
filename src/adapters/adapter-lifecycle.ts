import { LifecycleError } from '../errors/index.js';

/**
 * connect/close for every adapter (CONVENTIONS 8): concurrent and repeated `connect()` calls share one in-flight
 * open; a failed open can be retried; `close()` is idempotent, waits for an open in flight, and is final.
 */
export class AdapterLifecycle {
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #connected = false;

  constructor(
    private readonly id: string,
    private readonly open: () => Promise<void>,
    private readonly shutdown: () => Promise<void>,
  ) {}

  get connected(): boolean {
    return this.#connected;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  connect(): Promise<void> {
    if (this.#closing) return Promise.reject(new LifecycleError(`${this.id}: connect() after close(); create a new adapter`));
    this.#connecting ??= this.open().then(
      () => {
        this.#connected = true;
      },
      (error: unknown) => {
        this.#connecting = undefined;
        throw error;
      },
    );
    return this.#connecting;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#connecting) await this.#connecting.catch(() => undefined);
      this.#connected = false;
      await this.shutdown();
    })();
    return this.#closing;
  }

  /** The error for a call made before connect() or after close(). */
  notConnectedError(): LifecycleError {
    return new LifecycleError(this.#closing ? `${this.id}: the adapter is closed` : `${this.id}: call connect() (or DataManager.initialize()) first`);
  }

  assertConnected(): void {
    if (!this.#connected) throw this.notConnectedError();
  }
}
