// A separate datakeep instance for the failover tests, killed (SIGKILL) or paused (SIGSTOP) by the test as a crashed or
// frozen instance would be. argv: JSON WorkerInput. It prints one JSON event a line on stdout, each with `t` (Date.now()):
//   {event: 'held', leaseId}            it won the leadership
//   {event: 'lost', validUntil, reason} it learned it lost it; validUntil = until when the lease was certainly alive
//   {event: 'put', id, ok, reason?}     the answer to a {cmd: 'put', id, epoch} line on stdin (putIfLeader with the
//                                       last leadership it held, lost or not)
//   {event: 'primary-down', epoch}      (watcher mode) onPrimaryDown was called; epoch = the record it saw
//   {event: 'failed-over', epoch}       (watcher mode) its onPrimaryDown wrote the record of a failover
//   {event: 'record', epoch, primary}   (watcher mode) onRecord
// Mode 'authority' campaigns in a loop through EtcdAuthority; mode 'watcher' runs a FailoverWatcher whose primary is
// a PostgreSQL server probed with SELECT 1 (nodes maps each record's primary name to a port).
import { createInterface } from 'node:readline';
import { ReplicationError } from '../../src/errors/replication-error.js';
import { EtcdAuthority } from '../../src/replication/etcd-authority.js';
import type { EtcdLeadership } from '../../src/replication/etcd-leadership.js';
import type { ClusterRecord, Leadership } from '../../src/replication/failover-authority.js';
import { FailoverWatcher } from '../../src/replication/failover-watcher.js';
import { probePostgres } from './probe-postgres.js';

export interface WorkerInput {
  mode: 'authority' | 'watcher';
  endpoints: string[];
  cluster: string;
  holder: string;
  ttlMs: number;
  /** watcher mode */
  checkIntervalMs?: number;
  failoverTimeoutMs?: number;
  /** Record primary name -> PostgreSQL port on 127.0.0.1. */
  nodes?: Record<string, number>;
  /** The node a failover promotes (watcher mode). */
  promote?: string;
  /** How long the simulated failover steps take before the record is written (watcher mode). */
  stepsMs?: number;
}

const input = JSON.parse(process.argv[2]!) as WorkerInput;
const emit = (event: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);
const authority = new EtcdAuthority({ type: 'etcd', endpoints: input.endpoints, cluster: input.cluster, leaseTtl: input.ttlMs });
let last: EtcdLeadership | undefined;
const stopping = new AbortController();

function announce(leadership: EtcdLeadership): void {
  last = leadership;
  emit('held', { leaseId: leadership.leaseId });
  leadership.lost.addEventListener('abort', () => {
    const reason = leadership.lost.reason as unknown;
    emit('lost', { validUntil: leadership.validUntil, reason: reason instanceof Error ? reason.message : String(reason) });
  });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { cmd: 'put'; id: number; epoch: number } | { cmd: 'exit' };
  if (command.cmd === 'exit') {
    stopping.abort();
    return;
  }
  const record: ClusterRecord = { primary: 'n', epoch: command.epoch, fenced: [], at: new Date().toISOString(), by: input.holder, reason: 'failover' };
  if (!last) return emit('put', { id: command.id, ok: false, reason: 'never-held' });
  last.putIfLeader(record, { timeoutMs: 3000 }).then(
    () => emit('put', { id: command.id, ok: true }),
    (error: unknown) => emit('put', { id: command.id, ok: false, reason: error instanceof ReplicationError ? error.reason : String(error) }),
  );
});

async function campaignLoop(): Promise<void> {
  while (!stopping.signal.aborted) {
    try {
      const leadership = await authority.campaign(input.holder, { ttlMs: input.ttlMs, timeoutMs: input.ttlMs * 2, signal: stopping.signal });
      announce(leadership);
      await new Promise<void>((resolve) => {
        const signal = AbortSignal.any([leadership.lost, stopping.signal]);
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      if (!leadership.lost.aborted) await leadership.resign();
    } catch (error) {
      // timeout (another holds it) or unreachable (etcd down): campaign again
      if (!(error instanceof ReplicationError)) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function watcherMode(): Promise<void> {
  let current: ClusterRecord | undefined;
  const watcher = new FailoverWatcher({
    authority: {
      // The watcher sees the same authority; campaign is wrapped only to report each leadership.
      description: authority.description,
      campaign: async (holder, options) => {
        const leadership = await authority.campaign(holder, options);
        announce(leadership);
        return leadership;
      },
      read: (o) => authority.read(o),
      watch: (f) => authority.watch(f),
      leader: (o) => authority.leader(o),
      close: () => authority.close(),
    },
    holder: input.holder,
    ttlMs: input.ttlMs,
    checkIntervalMs: input.checkIntervalMs!,
    failoverTimeoutMs: input.failoverTimeoutMs!,
    probePrimary: () => {
      const port = current ? input.nodes![current.primary] : undefined;
      return port === undefined ? Promise.resolve(false) : probePostgres(port);
    },
    onPrimaryDown: async (leadership: Leadership) => {
      const seen = await authority.read({ timeoutMs: 2000 });
      emit('primary-down', { epoch: seen?.epoch });
      // The manager's steps (choose, promote, fence) would run here, checking leadership.lost between them.
      await new Promise((r) => setTimeout(r, input.stepsMs ?? 300));
      if (leadership.lost.aborted || !seen) return;
      const record: ClusterRecord = { primary: input.promote!, epoch: seen.epoch + 1, fenced: [seen.primary], at: new Date().toISOString(), by: input.holder, reason: 'failover' };
      await leadership.putIfLeader(record, { timeoutMs: 2000 });
      emit('failed-over', { epoch: record.epoch });
    },
    onRecord: (record) => {
      current = record;
      emit('record', { epoch: record.epoch, primary: record.primary });
    },
  });
  watcher.start();
  await new Promise<void>((resolve) => stopping.signal.addEventListener('abort', () => resolve(), { once: true }));
  await watcher.stop();
}

await (input.mode === 'authority' ? campaignLoop() : watcherMode());
await authority.close();
emit('exited');
process.exit(0);
