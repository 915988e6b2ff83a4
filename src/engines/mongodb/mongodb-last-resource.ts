import type { TransactionContext } from '../../adapters/database-adapter.js';
import type { MongodbAdapter, MongoTransactionContext } from './mongodb-adapter.js';
import type { LastResource } from '../../transactions/last-resource.js';

const MARKERS = 'datakeep_tx_markers';

/** MongoDB as the last resource: the marker document is inserted in the same transaction as the caller's writes. */
export class MongodbLastResource implements LastResource {
  readonly type = 'mongodb';

  constructor(private readonly adapter: MongodbAdapter) {}

  get adapterId(): string {
    return this.adapter.id;
  }

  run<T>(markerKey: string, body: (context: TransactionContext) => Promise<T>): Promise<T> {
    // One body run only: the driver's re-run on TransientTransactionError would run the other participants' work
    // again. A transient error aborts the whole distributed transaction instead; the caller may run it again.
    return this.adapter.transaction(async (tx: MongoTransactionContext) => {
      const value = await body(tx);
      await tx.command({ insert: MARKERS, documents: [{ _id: markerKey, at: new Date() }] });
      return value;
    }, { maxAttempts: 1 });
  }

  async hasMarker(markerKey: string): Promise<boolean> {
    const docs = (await this.adapter.command({ find: MARKERS, filter: { _id: markerKey }, limit: 1 })) as unknown[];
    return Array.isArray(docs) && docs.length > 0;
  }

  async clearMarker(markerKey: string): Promise<void> {
    await this.adapter.command({ delete: MARKERS, filter: { _id: markerKey } });
  }
}
