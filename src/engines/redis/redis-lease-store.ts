import type { DatabaseAdapter } from '../../adapters/database-adapter.js';
import type { LeaseStore } from '../../locks/lease-lock.js';

// Compare-and-act scripts: the check and the action must be one atomic step, or a runner could extend or delete a
// lease that expired and was taken by someone else in between.
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** A Redis lease: `SET key token NX PX ttl`, renewed and released by compare-and-act Lua scripts. */
export class RedisLeaseStore implements LeaseStore {
  readonly kind = 'redis lease';

  constructor(
    private readonly adapter: DatabaseAdapter,
    private readonly key: string,
  ) {}

  async tryAcquire(token: string, ttlMs: number): Promise<boolean> {
    return (await this.adapter.command(['SET', this.key, token, 'NX', 'PX', String(ttlMs)])) === 'OK';
  }

  async renew(token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.adapter.command(['EVAL', RENEW, '1', this.key, token, String(ttlMs)])) === 1;
  }

  async release(token: string): Promise<void> {
    await this.adapter.command(['EVAL', RELEASE, '1', this.key, token]);
  }

  async current(): Promise<string | undefined> {
    const value = await this.adapter.command(['GET', this.key]);
    return value === null || value === undefined ? undefined : String(value);
  }

  async forceDelete(): Promise<string | undefined> {
    const owner = await this.current();
    await this.adapter.command(['DEL', this.key]);
    return owner;
  }
}
