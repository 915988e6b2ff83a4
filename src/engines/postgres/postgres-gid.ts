import { UsageError } from '../../errors/index.js';
import type { BranchId } from '../../transactions/transaction-ids.js';

/**
 * `dk:<node>:<global>:<branch>[:<decided by>]`: at most 3 + 32 + 1 + 30 + 1 + 3 + 1 + 60 = 131 bytes, within
 * PostgreSQL's 200-byte gid. The last part names the adapter whose decision row decides the transaction (a
 * commit-markable participant), when one does.
 */
const PG_GID = /^dk:([A-Za-z0-9_.-]{1,32}):([a-z0-9]{8,30}):([1-9][0-9]{0,2})(?::([A-Za-z0-9_.-]{1,60}))?$/;

/** The PREPARE TRANSACTION gid of a datakeep branch. */
export function postgresGid(id: BranchId): string {
  const gid = `dk:${id.nodeId}:${id.globalId}:${id.branch}${id.decidedBy === undefined ? '' : `:${id.decidedBy}`}`;
  if (!PG_GID.test(gid)) throw new UsageError('gid', `"${gid}" is not a datakeep transaction id (node, global id, branch or decision holder malformed)`);
  return gid;
}

/** The parts of a datakeep PostgreSQL gid; undefined for any other gid (another coordinator, an application's own). */
export function parsePostgresGid(gid: string): BranchId | undefined {
  const m = PG_GID.exec(gid);
  return m ? { nodeId: m[1]!, globalId: m[2]!, branch: m[3]!, decidedBy: m[4] } : undefined;
}

/** Quotes a gid for PREPARE/COMMIT PREPARED, which take a literal, never a parameter. Only datakeep gids get here. */
export function gidLiteral(gid: string): string {
  if (!PG_GID.test(gid)) throw new UsageError('gid', `"${gid}" is not a datakeep transaction id`);
  return `'${gid}'`;
}
