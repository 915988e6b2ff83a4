import { MongoClient, type Document } from 'mongodb';
import { ReplicationError } from '../../../errors/index.js';
import type { ReplicationNode } from '../../../replication/replication-part.js';
import { redactUrlPasswords } from '../../../util/secrets.js';
import { nodeConnectionPlan } from './node-connection-plan.js';

/**
 * Direct connections to the members one replication step talks to, opened on first use and all closed by `close()`
 * (callers use `withNodeClients`). Every command is bounded twice: by the server (maxTimeMS, where the command takes
 * it) and by a timer here, so a member that accepts the connection but never answers cannot hold a step.
 */
export class NodeClients {
  readonly #clients = new Map<string, Promise<MongoClient>>();
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Runs an admin command on `node`; rejects with the driver's error, or ReplicationError('timeout') at `timeoutMs`. */
  async admin(node: ReplicationNode, command: Document, step: string, timeoutMs = this.#timeoutMs): Promise<Document> {
    return bounded(
      (async () => (await this.#client(node, timeoutMs)).db('admin').command(command))(),
      timeoutMs,
      () => new ReplicationError('timeout', `${node.name}: ${Object.keys(command)[0]} got no answer within ${timeoutMs} ms`, { node: node.name, step }),
    );
  }

  #client(node: ReplicationNode, timeoutMs: number): Promise<MongoClient> {
    const key = `${node.host}:${node.port}`;
    let client = this.#clients.get(key);
    if (!client) {
      const { url, options } = nodeConnectionPlan(node, timeoutMs);
      client = new MongoClient(url, options).connect();
      this.#clients.set(key, client);
      // A failed connection is forgotten so that a later call (a poll) tries again.
      client.catch(() => this.#clients.delete(key));
    }
    return client;
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map(async (c) => (await c.catch(() => undefined))?.close().catch(() => undefined)));
  }
}

export async function withNodeClients<T>(timeoutMs: number, fn: (clients: NodeClients) => Promise<T>): Promise<T> {
  const clients = new NodeClients(timeoutMs);
  try {
    return await fn(clients);
  } finally {
    await clients.close();
  }
}

/** A driver error as one line without secrets (driver messages can quote a connection string). */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return redactUrlPasswords(text);
}

function bounded<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
