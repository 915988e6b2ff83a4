import type { Document } from 'mongodb';
import { ReplicationError } from '../../../errors/index.js';
import type { SyncSettings } from '../../../replication/replication-part.js';
import { toNumber } from './optime-position.js';

/** The cluster-wide default write concern (setDefaultRWConcern, MongoDB 4.4+) that gives datakeep's sync settings. */
export type DefaultWriteConcern = { readonly w: 'majority' | number };

/**
 * MongoDB has no list of synchronous standbys: a write is acknowledged once `w` members have it. Sync mode is
 * therefore `w: "majority"`, the only setting under which an acknowledged write survives every election (a new
 * primary must win a majority, so it has every majority-acknowledged write); a count above the majority becomes that
 * count (primary + `count` replicas), never less. Async mode is `w: 1`. An ordered list ('first') cannot be said with
 * a count and is refused rather than silently treated as a quorum.
 * https://www.mongodb.com/docs/manual/reference/command/setDefaultRWConcern/
 */
export function writeConcernFor(settings: SyncSettings, writeMajorityCount: number, node: string): DefaultWriteConcern {
  if (settings.mode === 'async') return { w: 1 };
  if (settings.method === 'first') {
    throw new ReplicationError(
      'refused',
      `${node}: MongoDB acknowledges writes by count (w) or by tag sets, never by an ordered list of standbys, so syncMethod "first" cannot be applied; use syncMethod "any" (sync mode on MongoDB is w: "majority")`,
      { node, step: 'configure-sync' },
    );
  }
  return settings.count + 1 > writeMajorityCount ? { w: settings.count + 1 } : { w: 'majority' };
}

/** What getDefaultRWConcern says is in force, as SyncSettings; `standbys` are the data-bearing members' names. */
export function syncSettingsInForce(reply: Document, writeMajorityCount: number, standbys: readonly string[]): SyncSettings {
  const concern = (reply.defaultWriteConcern ?? {}) as Document;
  const w: unknown = concern.w;
  // MongoDB 5.0+ defaults to "majority" when no default was set (defaultWriteConcernSource: "implicit").
  if (w === 'majority' || w === undefined) return { mode: 'sync', method: 'any', count: Math.max(0, writeMajorityCount - 1), standbys };
  const count = toNumber(w);
  if (count === undefined) return { mode: 'sync', method: 'any', count: Math.max(0, writeMajorityCount - 1), standbys };
  return count <= 1 ? { mode: 'async', method: 'any', count: 0, standbys } : { mode: 'sync', method: 'any', count: count - 1, standbys };
}
