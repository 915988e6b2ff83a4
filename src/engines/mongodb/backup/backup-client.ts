import { MongoClient, type Document } from 'mongodb';
import type { ResolvedDatabaseConfig } from '../../../config/database-config.js';
import { mongoClientOptions } from '../mongo-client-options.js';

/**
 * A client of its own for one backup or restore, so that long cursors never hold the application's pool, built from
 * the same configuration as the adapter (URL options, credentials, TLS).
 */
export async function openBackupClient(config: ResolvedDatabaseConfig): Promise<{ client: MongoClient; database: string }> {
  const plan = mongoClientOptions(config);
  const { monitorCommands: _monitor, ...options } = plan.options;
  const client = new MongoClient(plan.url, { ...options, maxPoolSize: 4 });
  try {
    await client.connect();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  return { client, database: plan.database };
}

/** What the backup records about the server: its version, and whether it is a replica-set member (snapshot reads). */
export async function serverFacts(client: MongoClient): Promise<{ version: string; replicaSet: string | undefined; ferretdb: boolean }> {
  const admin = client.db('admin');
  const [hello, build] = await Promise.all([admin.command({ hello: 1 }), admin.command({ buildInfo: 1 }) as Promise<Document>]);
  return {
    version: String(build.version ?? 'unknown'),
    replicaSet: typeof hello.setName === 'string' ? hello.setName : undefined,
    ferretdb: typeof build.ferretdbVersion === 'string' || typeof (build.ferretdb as Document | undefined)?.version === 'string',
  };
}
