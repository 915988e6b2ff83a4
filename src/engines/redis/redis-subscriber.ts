import type { Redis } from 'ioredis';
import type { Logger } from '../../util/logger.js';

/** Receives one published message; `channel` is the channel it was published on. */
export type RedisMessageHandler = (message: string, channel: string) => void;

interface ChannelEntry {
  readonly handlers: Set<RedisMessageHandler>;
  /** Settles when the server has confirmed SUBSCRIBE, so that a later subscriber to the same channel waits for it. */
  readonly ready: Promise<void>;
}

/**
 * Pub/sub on one dedicated connection (a subscribed connection can run nothing but (UN)SUBSCRIBE and PING, so it
 * cannot be the adapter's command connection). Opened on the first subscribe; ioredis re-subscribes after a
 * reconnect. Delivery is Redis' own: at most once, and messages published while the connection is down are lost.
 */
export class RedisSubscriber {
  readonly #channels = new Map<string, ChannelEntry>();
  readonly #gapListeners = new Set<() => void>();
  #lost = false;
  #connection: Promise<Redis> | undefined;
  #opened: Redis | undefined;
  #closed = false;

  constructor(
    private readonly adapterId: string,
    private readonly open: () => Promise<Redis>,
    private readonly logger: Logger,
  ) {}

  get connected(): boolean {
    return this.#opened?.status === 'ready';
  }

  /** Subscribes `handler` to `channel`; resolves once the server confirmed, with a function that unsubscribes it. */
  async subscribe(channel: string, handler: RedisMessageHandler): Promise<() => Promise<void>> {
    const connection = await this.#connect();
    let entry = this.#channels.get(channel);
    if (!entry) {
      const created: ChannelEntry = { handlers: new Set(), ready: connection.subscribe(channel).then(() => undefined) };
      entry = created;
      this.#channels.set(channel, created);
      created.ready.catch(() => {
        if (this.#channels.get(channel) === created) this.#channels.delete(channel);
      });
    }
    await entry.ready;
    // A distinct wrapper per call, so that subscribing the same function twice needs two unsubscribes.
    const wrapper: RedisMessageHandler = (message, ch) => handler(message, ch);
    entry.handlers.add(wrapper);
    const owner = entry;
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      owner.handlers.delete(wrapper);
      if (owner.handlers.size === 0 && this.#channels.get(channel) === owner) {
        this.#channels.delete(channel);
        if (!this.#closed && this.#opened?.status === 'ready') await this.#opened.unsubscribe(channel);
      }
    };
  }

  /**
   * Calls `listener` each time the pub/sub connection is back after it was lost: messages published meanwhile were
   * not delivered (a cache then drops what those messages might have invalidated). Returns a function that removes it.
   */
  onGap(listener: () => void): () => void {
    this.#gapListeners.add(listener);
    return () => this.#gapListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#gapListeners.clear();
    this.#channels.clear();
    const pending = this.#connection;
    this.#connection = undefined;
    if (!pending) return;
    const connection = await pending.catch(() => undefined);
    if (!connection) return;
    if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
    else connection.disconnect();
  }

  #connect(): Promise<Redis> {
    if (this.#connection) return this.#connection;
    const opening = this.open().then((connection) => {
      this.#opened = connection;
      connection.on('message', (channel: string, message: string) => this.#dispatch(channel, message));
      connection.on('close', () => (this.#lost = true));
      connection.on('ready', () => {
        if (!this.#lost) return;
        this.#lost = false;
        for (const listener of this.#gapListeners) listener();
      });
      return connection;
    });
    this.#connection = opening;
    // A failed open is not cached: the next subscribe tries again.
    opening.catch(() => {
      if (this.#connection === opening) this.#connection = undefined;
    });
    return opening;
  }

  #dispatch(channel: string, message: string): void {
    const entry = this.#channels.get(channel);
    if (!entry) return;
    for (const handler of entry.handlers) {
      try {
        handler(message, channel);
      } catch (error) {
        // One faulty handler must not stop delivery to the others, nor crash the connection's event loop.
        this.logger.log('error', 'pub/sub message handler threw', { adapter: this.adapterId, channel, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
}
