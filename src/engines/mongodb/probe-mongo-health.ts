import { MongoServerError, type Db, type Document, type MongoClient } from 'mongodb';
import type { HealthFacts } from '../../adapters/adapter-hooks.js';
import { classifyTopology, type MongoTopology } from './classify-topology.js';
import { healthFromHello } from './health-from-hello.js';

const COMMAND_NOT_FOUND = 59;

/** `hello`, or the legacy `isMaster` on servers older than 4.4.2 that do not know it. */
export async function helloCommand(admin: Db): Promise<Document> {
  try {
    return await admin.command({ hello: 1 });
  } catch (error) {
    if (error instanceof MongoServerError && error.code === COMMAND_NOT_FOUND) return admin.command({ isMaster: 1 });
    throw error;
  }
}

/**
 * hello and buildInfo (through `operate`, the circuit breaker), and on a replica set replSetGetStatus for members and
 * lag (which needs the clusterMonitor role: without it health says so and goes on). Reports the topology it saw.
 */
export async function probeMongoHealth(
  client: MongoClient,
  operate: <T>(call: (client: MongoClient) => Promise<T>) => Promise<T>,
  onTopology: (topology: MongoTopology) => void,
): Promise<HealthFacts> {
  const [hello, buildInfo] = await operate((c) => {
    const admin = c.db('admin');
    return Promise.all([helloCommand(admin), admin.command({ buildInfo: 1 })]);
  });
  const topology = classifyTopology(hello);
  onTopology(topology);
  let replSetStatus: Document | undefined;
  let replSetStatusError: string | undefined;
  if (topology.kind === 'replica-set') {
    try {
      replSetStatus = await client.db('admin').command({ replSetGetStatus: 1 });
    } catch (error) {
      replSetStatusError = `replSetGetStatus failed (${error instanceof Error ? error.message : String(error)}); grant the clusterMonitor role to see members and lag`;
    }
  }
  const facts = healthFromHello({ hello, buildInfo, replSetStatus, replSetStatusError });
  return { ...(facts.serverVersion !== undefined ? { serverVersion: facts.serverVersion } : {}), inRecovery: facts.inRecovery, details: facts.details, reasons: facts.reasons };
}
