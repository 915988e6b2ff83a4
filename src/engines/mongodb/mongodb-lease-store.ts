import type { DatabaseAdapter } from '../../adapters/database-adapter.js';
import { QueryError } from '../../errors/index.js';
import type { LeaseStore } from '../../locks/lease-lock.js';

/**
 * A MongoDB lease document `{_id: name, owner, expiresAt}`. Taking it is one upsert whose filter matches only an
 * expired lease: if a live lease exists, the upsert tries to insert a second document with the same `_id` and the
 * server refuses it (duplicate key), which is the atomic "someone else holds it".
 */
export class MongodbLeaseStore implements LeaseStore {
  readonly kind = 'mongodb lease';

  constructor(
    private readonly adapter: DatabaseAdapter,
    private readonly collection: string,
    private readonly name: string,
  ) {}

  async tryAcquire(token: string, ttlMs: number): Promise<boolean> {
    const now = new Date();
    try {
      await this.adapter.command({
        update: this.collection,
        filter: { _id: this.name, expiresAt: { $lt: now } },
        changes: { $set: { owner: token, acquiredAt: now, expiresAt: new Date(now.getTime() + ttlMs) } },
        upsert: true,
      });
      return true;
    } catch (error) {
      if (error instanceof QueryError && (error.sqlState === 'DuplicateKey' || /E11000/.test(error.message))) return false;
      throw error;
    }
  }

  async renew(token: string, ttlMs: number): Promise<boolean> {
    const result = (await this.adapter.command({ update: this.collection, filter: { _id: this.name, owner: token }, changes: { $set: { expiresAt: new Date(Date.now() + ttlMs) } } })) as { matchedCount?: number };
    return result.matchedCount === 1;
  }

  async release(token: string): Promise<void> {
    await this.adapter.command({ delete: this.collection, filter: { _id: this.name, owner: token } });
  }

  async current(): Promise<string | undefined> {
    const docs = (await this.adapter.command({ find: this.collection, filter: { _id: this.name, expiresAt: { $gte: new Date() } } })) as { owner: string }[];
    return docs[0]?.owner;
  }

  async forceDelete(): Promise<string | undefined> {
    const docs = (await this.adapter.command({ find: this.collection, filter: { _id: this.name } })) as { owner: string }[];
    await this.adapter.command({ delete: this.collection, filter: { _id: this.name } });
    return docs[0]?.owner;
  }
}
