import type { TransactionContext } from '../../adapters/database-adapter.js';
import type { RedisAdapter } from './redis-adapter.js';
import type { RedisTransactionContext } from './redis-transaction-context.js';
import { MARKER_TTL_SECONDS, type LastResource } from '../../transactions/last-resource.js';

/** Redis as the last resource: the caller's queued commands and the marker SET run in one MULTI/EXEC block. */
export class RedisLastResource implements LastResource {
  readonly type = 'redis';

  constructor(private readonly adapter: RedisAdapter) {}

  get adapterId(): string {
    return this.adapter.id;
  }

  run<T>(markerKey: string, body: (context: TransactionContext) => Promise<T>): Promise<T> {
    return this.adapter.transaction(async (tx) => {
      const value = await body(tx);
      // Queued last: a MULTI block runs in order, so the marker follows every command of the caller's work.
      (tx as RedisTransactionContext).queue(['SET', markerKey, 'commit', 'EX', String(MARKER_TTL_SECONDS)]);
      return value;
    });
  }

  async hasMarker(markerKey: string): Promise<boolean> {
    return (await this.adapter.command(['EXISTS', markerKey])) === 1;
  }

  async clearMarker(markerKey: string): Promise<void> {
    await this.adapter.command(['DEL', markerKey]);
  }
}
