import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import type { ReplicationNode } from '../../src/replication/replication-part.js';

/** A ReplicationNode for a throwaway Redis (or any host:port), named `name`; `options` as a redis config's (Sentinel mode). */
export function redisNode(name: string, server: { host: string; port: number }, options?: Record<string, unknown>): ReplicationNode {
  const config = resolveDatabaseConfig({ type: 'redis', host: server.host, port: server.port, database: '0', ...(options ? { options } : {}) }, name);
  return { name, host: server.host, port: server.port, region: undefined, dataDir: undefined, sync: true, priority: 0, config };
}

/**
 * Writes `key:<i>` for i = 0, 1, 2, ... through `write` as fast as it is answered (at most `ratePerSecond`), and
 * records each id whose write was acknowledged, with when. Failed writes are counted and retried with the next id
 * after a short pause, as an application would. The lost writes after a failover are the acknowledged ids missing.
 */
export class AckWriter {
  /** Acknowledged ids, when their write was sent and when it was acknowledged. */
  readonly acknowledged: { id: number; sent: number; at: number }[] = [];
  failures = 0;
  lastError = '';
  #next = 0;
  #running = true;
  #done: Promise<void>;

  constructor(
    readonly prefix: string,
    write: (key: string, value: string) => Promise<boolean>,
    ratePerSecond = 200,
  ) {
    const gap = 1000 / ratePerSecond;
    this.#done = (async () => {
      while (this.#running) {
        const id = this.#next++;
        const started = Date.now();
        try {
          if (await write(`${prefix}:${id}`, String(id))) this.acknowledged.push({ id, sent: started, at: Date.now() });
          else this.failures += 1;
        } catch (error) {
          this.failures += 1;
          this.lastError = error instanceof Error ? error.message : String(error);
          await new Promise((r) => setTimeout(r, 20));
        }
        const wait = gap - (Date.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  /**
   * When the first write sent at or after `since` (ms epoch) was acknowledged: with `since` the moment the old primary
   * was known dead, that write can only have been acknowledged by the new one.
   */
  firstAckAfter(since: number): number | undefined {
    return this.acknowledged.find((a) => a.sent >= since)?.at;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }

  /** The acknowledged ids whose key `exists` says is missing (checked in batches). */
  async missing(exists: (keys: string[]) => Promise<boolean[]>): Promise<number[]> {
    const lost: number[] = [];
    for (let i = 0; i < this.acknowledged.length; i += 500) {
      const batch = this.acknowledged.slice(i, i + 500);
      const present = await exists(batch.map((a) => `${this.prefix}:${a.id}`));
      batch.forEach((a, j) => {
        if (!present[j]) lost.push(a.id);
      });
    }
    return lost;
  }
}
