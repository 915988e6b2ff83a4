import { z } from 'zod';
import { ReplicationError } from '../errors/replication-error.js';
import type { ClusterRecord } from './failover-authority.js';

const recordSchema = z.object({
  primary: z.string().min(1),
  epoch: z.number().int().min(0),
  timeline: z.number().int().optional(),
  position: z.string().optional(),
  fenced: z.array(z.string()).readonly(),
  at: z.string(),
  by: z.string(),
  reason: z.enum(['bootstrap', 'switchover', 'failover', 'manual-failover']),
});

/** The record as stored in etcd: JSON of exactly the ClusterRecord fields. */
export function encodeClusterRecord(record: ClusterRecord): string {
  const checked = recordSchema.safeParse(record);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new ReplicationError('refused', `cluster record: ${issue.path.join('.') || 'record'} ${issue.message}; write a record with primary, an integer epoch, fenced, at, by and reason`);
  }
  return JSON.stringify(checked.data);
}

/** Parses a stored record; one that is not a ClusterRecord (written by hand, or by another tool) is an error naming the key. */
export function decodeClusterRecord(text: string, key: string): ClusterRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ReplicationError('failed', `the cluster record at ${key} is not JSON; delete it or write a valid record`);
  }
  const checked = recordSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new ReplicationError('failed', `the cluster record at ${key} is not valid: ${issue.path.join('.') || 'record'} ${issue.message}`);
  }
  return checked.data;
}
