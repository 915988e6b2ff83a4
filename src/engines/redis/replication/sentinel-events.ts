import type { Redis } from 'ioredis';
import { ReplicationError } from '../../../errors/index.js';
import { redisTlsOptions } from '../redis-client-options.js';
import { describe, type RedisEndpoint } from './redis-node-connection.js';

/** The Sentinel events a manager records: failovers, and instances seen down (subjectively, then by a quorum). */
export const SENTINEL_EVENTS = ['+switch-master', '+sdown', '-sdown', '+odown', '-odown', '+failover-end', '+convert-to-slave', '-failover-abort-no-good-slave'] as const;
export type SentinelEventType = (typeof SENTINEL_EVENTS)[number];

export interface SentinelEvent {
  readonly type: SentinelEventType;
  /** The Sentinel that published it (+switch-master is delivered once, from the first Sentinel that announced it). */
  readonly sentinel: string;
  readonly masterName: string;
  /** The instance the event is about (+sdown, +odown, +convert-to-slave): its kind ('master', 'slave', 'sentinel') and address. */
  readonly instance?: { readonly kind: string; readonly host: string; readonly port: number };
  /** +switch-master: the master before and after. */
  readonly oldMaster?: { readonly host: string; readonly port: number };
  readonly newMaster?: { readonly host: string; readonly port: number };
  readonly message: string;
  readonly at: Date;
}

/**
 * Subscribes to the event channels of every Sentinel of a set and reports the events about `masterName`. Each Sentinel
 * has its own connection, which ioredis re-establishes (and re-subscribes) when a Sentinel restarts, also one that was
 * down at the start; start() resolves once at least one Sentinel confirmed the subscription, and fails with ReplicationError('unreachable') when none did
 * within `timeoutMs`.
 */
export class SentinelWatcher {
  readonly #clients: Redis[];
  #lastSwitch = '';

  private constructor(clients: Redis[]) {
    this.#clients = clients;
  }

  static async start(sentinels: readonly RedisEndpoint[], masterName: string, onEvent: (event: SentinelEvent) => void, options: { timeoutMs: number }): Promise<SentinelWatcher> {
    const { Redis } = await import('ioredis');
    const clients = sentinels.map(
      (s) =>
        new Redis({
          host: s.host,
          port: s.port,
          username: s.username,
          password: s.password,
          tls: s.config ? redisTlsOptions(s.config) : undefined,
          lazyConnect: true,
          connectTimeout: options.timeoutMs,
          // The SUBSCRIBE of a Sentinel that is down waits for it to come back (then ioredis resubscribes on every reconnect).
          maxRetriesPerRequest: null,
          retryStrategy: (times) => Math.min(1000, 100 * times),
          protocol: 2,
        }),
    );
    const watcher = new SentinelWatcher(clients);
    const subscribed = clients.map(async (client, i) => {
      const name = sentinels[i]!.name;
      // A Sentinel that is down must not print "Unhandled error event"; its reconnects go on quietly.
      client.on('error', () => undefined);
      client.on('message', (channel: string, message: string) => {
        const event = parseSentinelEvent(channel, message, name);
        if (event && event.masterName === masterName && watcher.#first(event)) onEvent(event);
      });
      await client.subscribe(...SENTINEL_EVENTS);
    });
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), options.timeoutMs).unref());
    const first = await Promise.race([Promise.any(subscribed).then(() => 'ok' as const, (error: unknown) => error), timeout]);
    if (first !== 'ok') {
      await watcher.close();
      const why = first === 'timeout' ? `none answered within ${options.timeoutMs} ms` : describe(first);
      throw new ReplicationError('unreachable', `could not subscribe to the Sentinels of ${masterName}: ${why}`, { step: 'watch sentinels' });
    }
    return watcher;
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
  }

  /** Every Sentinel announces the same +switch-master: report it once. */
  #first(event: SentinelEvent): boolean {
    if (event.type !== '+switch-master') return true;
    const key = event.message;
    if (key === this.#lastSwitch) return false;
    this.#lastSwitch = key;
    return true;
  }
}

/** One Sentinel pub/sub message as an event; undefined for a channel or shape it does not know. */
export function parseSentinelEvent(channel: string, message: string, sentinel: string): SentinelEvent | undefined {
  if (!(SENTINEL_EVENTS as readonly string[]).includes(channel)) return undefined;
  const type = channel as SentinelEventType;
  const words = message.split(' ');
  const at = new Date();
  if (type === '+switch-master') {
    const [masterName, oldHost, oldPort, newHost, newPort] = words;
    if (!masterName || !newHost) return undefined;
    return { type, sentinel, masterName, oldMaster: { host: oldHost!, port: Number(oldPort) }, newMaster: { host: newHost, port: Number(newPort) }, message, at };
  }
  // "<kind> <name> <ip> <port> @ <master-name> <master-ip> <master-port>", or for the master itself "master <name> <ip> <port>".
  const [kind, name, host, port] = words;
  if (!kind || !name) return undefined;
  const at_ = words.indexOf('@');
  const masterName = kind === 'master' || at_ < 0 ? name : words[at_ + 1]!;
  return { type, sentinel, masterName, instance: { kind, host: host ?? '', port: Number(port) }, message, at };
}
