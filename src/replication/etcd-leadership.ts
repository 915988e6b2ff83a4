import type { Etcd3, ICompare } from 'etcd3';
import { ReplicationError } from '../errors/replication-error.js';
import type { ClusterRecord, Leadership } from './failover-authority.js';
import { decodeClusterRecord, encodeClusterRecord } from './cluster-record-codec.js';
import { bounded } from './etcd-calls.js';
import { KeyWatch } from './etcd-key-watch.js';
import type { EtcdLease } from './etcd-lease.js';

/** What a leadership shares with its authority: the client, the keys, and the authority's list of open watches. */
export interface EtcdScope {
  readonly client: Etcd3;
  /** The endpoints, for messages (no credentials). */
  readonly endpoints: string;
  readonly leaderKey: string;
  readonly primaryKey: string;
  /** Registers a watch so that closing the authority cancels it; returns the deregistration. */
  track(watch: KeyWatch): () => void;
}

/**
 * The leadership won by a campaign: the leader key holds `holder` and is attached to `lease`. It is lost when the lease
 * is (see EtcdLease), or when a watch of the leader key sees it deleted or holding someone else. `putIfLeader` is
 * fenced in etcd itself, so a holder that does not yet know it lost (paused, partitioned) still cannot write.
 */
export class EtcdLeadership implements Leadership {
  readonly holder: string;
  readonly #scope: EtcdScope;
  readonly #lease: EtcdLease;
  readonly #watch: KeyWatch;

  constructor(scope: EtcdScope, holder: string, lease: EtcdLease, createdRevision: string) {
    this.#scope = scope;
    this.holder = holder;
    this.#lease = lease;
    const lose = (why: string) => lease.lose(new ReplicationError('not-leader', `${holder} lost the leadership of ${scope.leaderKey}: ${why}`));
    this.#watch = new KeyWatch(
      scope.client,
      scope.leaderKey,
      {
        put: (kv) => {
          if (kv.value.toString() !== holder || kv.lease !== lease.id) lose(`the key now holds ${kv.value.toString()}`);
        },
        delete: () => lose('the key was deleted (lease expired or revoked, or deleted by hand)'),
      },
      // From the revision after our own write: nothing that happened since is missed.
      { startRevision: (BigInt(createdRevision) + 1n).toString(), connectTimeoutMs: lease.ttlMs },
    );
    const untrack = scope.track(this.#watch);
    const stop = () => {
      untrack();
      void this.#watch.cancel();
    };
    if (lease.lost.aborted) stop();
    else lease.lost.addEventListener('abort', stop, { once: true });
  }

  get lost(): AbortSignal {
    return this.#lease.lost;
  }

  /** The etcd lease ID (decimal), for the CLI and tests. */
  get leaseId(): string {
    return this.#lease.id;
  }

  /** Wall-clock time until which this leadership is certainly still held in etcd (see EtcdLease.validUntil). */
  get validUntil(): number {
    return this.#lease.validUntil;
  }

  async putIfLeader(record: ClusterRecord, options: { timeoutMs: number }): Promise<void> {
    const value = Buffer.from(encodeClusterRecord(record));
    const { client, endpoints, leaderKey, primaryKey } = this.#scope;
    const deadline = Date.now() + options.timeoutMs;
    const left = (step: string) => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new ReplicationError('timeout', `${step} did not finish within ${options.timeoutMs} ms (etcd at ${endpoints})`, { step });
      return ms;
    };
    for (;;) {
      this.#assertHeld();
      const read = await bounded(endpoints, 'reading the cluster record', left('reading the cluster record'), (o) => client.kv.range({ key: Buffer.from(primaryKey) }, o));
      const stored = read.kvs[0];
      if (stored) {
        const current = decodeClusterRecord(stored.value.toString(), primaryKey);
        if (current.epoch >= record.epoch) {
          throw new ReplicationError('not-leader', `refused to write epoch ${record.epoch}: the cluster record at ${primaryKey} already has epoch ${current.epoch} (written by ${current.by}); a newer decision was made`);
        }
      }
      this.#assertHeld();
      // One transaction: we still hold the leader key with our lease, and the record is the one whose epoch we checked.
      const compare: ICompare[] = [
        { key: Buffer.from(leaderKey), target: 'Value', result: 'Equal', value: Buffer.from(this.holder) },
        { key: Buffer.from(leaderKey), target: 'Lease', result: 'Equal', lease: this.#lease.id },
        stored
          ? { key: Buffer.from(primaryKey), target: 'Mod', result: 'Equal', mod_revision: stored.mod_revision }
          : { key: Buffer.from(primaryKey), target: 'Create', result: 'Equal', create_revision: 0 },
      ];
      let result;
      try {
        result = await bounded(endpoints, 'writing the cluster record', left('writing the cluster record'), (o) =>
          client.kv.txn({ compare, success: [{ request_put: { key: Buffer.from(primaryKey), value } }], failure: [{ request_range: { key: Buffer.from(leaderKey) } }] }, o),
        );
      } catch (error) {
        if (error instanceof ReplicationError && error.reason === 'unreachable') {
          throw new ReplicationError('unreachable', `${error.message}; the write of epoch ${record.epoch} may or may not have been applied: read the record before acting on it`, { step: error.step, cause: error });
        }
        throw error;
      }
      if (result.succeeded) return;
      const leader = result.responses[0]?.response_range.kvs[0];
      if (!leader || leader.value.toString() !== this.holder || leader.lease !== this.#lease.id) {
        const now = leader ? `it is held by ${leader.value.toString()}` : 'the key is gone (lease expired or revoked)';
        const error = new ReplicationError('not-leader', `${this.holder} no longer holds ${leaderKey} (${now}); the cluster record was not written`);
        this.#lease.lose(error);
        throw error;
      }
      // We still lead but the record changed between the read and the write: check its epoch again.
    }
  }

  async resign(): Promise<void> {
    // Best effort and short: if etcd does not answer, the lease expires by itself.
    await this.#lease.revoke(Math.min(this.#lease.ttlMs / 2, 2000));
  }

  #assertHeld(): void {
    if (!this.lost.aborted) return;
    const reason = this.lost.reason as unknown;
    const why = reason instanceof Error ? reason.message : 'the lease was lost';
    throw new ReplicationError('not-leader', `${this.holder} does not hold ${this.#scope.leaderKey} any more (${why}); the cluster record was not written`, { cause: reason });
  }
}
