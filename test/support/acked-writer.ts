import type { DataManager } from '../../src/index.js';

/**
 * A writer for failover tests: INSERTs increasing ids through a DataManager every few milliseconds and records
 * which ones were acknowledged (and when), and every error, until stopped. What is acknowledged must survive.
 */
export class AckedWriter {
  readonly acked: number[] = [];
  readonly ackedAt: number[] = [];
  readonly errors: Error[] = [];
  #stop = false;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly dm: Pick<DataManager, 'execute'>,
    private readonly table: string,
    private next: number,
    private readonly intervalMs = 5,
  ) {}

  start(): void {
    this.#loop = (async () => {
      while (!this.#stop) {
        const id = this.next++;
        try {
          await this.dm.execute(`INSERT INTO ${this.table} (id) VALUES (?)`, [id]);
          this.acked.push(id);
          this.ackedAt.push(Date.now());
        } catch (error) {
          this.errors.push(error as Error);
        }
        await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    })();
  }

  /** The time of the first acknowledgement after `since` (ms epoch), waiting for it at most `timeoutMs`. */
  async firstAckAfter(since: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.ackedAt.find((t) => t > since);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no write was acknowledged within ${timeoutMs} ms after ${new Date(since).toISOString()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }
}
