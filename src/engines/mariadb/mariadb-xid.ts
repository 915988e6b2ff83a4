import { UsageError } from '../../errors/index.js';

/** An X/Open XA transaction id as MariaDB and MySQL take it: `XA START gtrid, bqual, formatID`. */
export interface Xid {
  /** 0 .. 2^31-1. datakeep's own xids use DATAKEEP_XA_FORMAT_ID. */
  readonly formatId: number;
  /** Global transaction id, 1 to 64 bytes. */
  readonly gtrid: Buffer;
  /** Branch qualifier, 0 to 64 bytes. */
  readonly bqual: Buffer;
}

/** What a datakeep coordinator puts into an xid, so that its recovery touches only its own branches. */
export interface DatakeepXidParts {
  /** The coordinator's node id (no ":"). */
  readonly nodeId: string;
  /** The distributed transaction's global id. */
  readonly globalId: string;
  /** The branch (participant) within the global transaction. */
  readonly branch: string;
}

/** "DKXA" as a big-endian int32: marks an xid as written by a datakeep coordinator. */
export const DATAKEEP_XA_FORMAT_ID = 0x444b5841;
/** XA's limits (MAXGTRIDSIZE, MAXBQUALSIZE). */
export const XA_MAX_GTRID_BYTES = 64;
export const XA_MAX_BQUAL_BYTES = 64;

/**
 * Builds a datakeep xid: gtrid is `nodeId:globalId` and bqual the branch, both UTF-8, under the DATAKEEP_XA_FORMAT_ID
 * format. Text rather than packed binary so that `XA RECOVER` stays readable to an operator; the statements use hex
 * literals, so any bytes would be safe.
 */
export function datakeepXid(parts: DatakeepXidParts): Xid {
  const { nodeId, globalId, branch } = parts;
  if (typeof nodeId !== 'string' || nodeId === '' || nodeId.includes(':')) {
    throw new UsageError('nodeId', `expected a non-empty string without ":", got ${JSON.stringify(nodeId)}`);
  }
  if (typeof globalId !== 'string' || globalId === '') {
    throw new UsageError('globalId', `expected a non-empty string, got ${JSON.stringify(globalId)}`);
  }
  if (typeof branch !== 'string' || branch === '') {
    throw new UsageError('branch', `expected a non-empty string, got ${JSON.stringify(branch)}`);
  }
  const gtrid = Buffer.from(`${nodeId}:${globalId}`, 'utf8');
  if (gtrid.length > XA_MAX_GTRID_BYTES) {
    throw new UsageError('globalId', `nodeId ":" globalId is ${gtrid.length} bytes, and an XA gtrid holds at most ${XA_MAX_GTRID_BYTES}; use a shorter node id or global id`);
  }
  const bqual = Buffer.from(branch, 'utf8');
  if (bqual.length > XA_MAX_BQUAL_BYTES) {
    throw new UsageError('branch', `is ${bqual.length} bytes, and an XA branch qualifier holds at most ${XA_MAX_BQUAL_BYTES}; use a shorter branch name`);
  }
  return Object.freeze({ formatId: DATAKEEP_XA_FORMAT_ID, gtrid, bqual });
}

/** The parts of a datakeep xid, or undefined when the xid was not written by a datakeep coordinator. */
export function parseDatakeepXid(xid: Xid): DatakeepXidParts | undefined {
  if (xid.formatId !== DATAKEEP_XA_FORMAT_ID) return undefined;
  const gtrid = strictUtf8(xid.gtrid);
  const branch = strictUtf8(xid.bqual);
  if (gtrid === undefined || branch === undefined || branch === '') return undefined;
  const colon = gtrid.indexOf(':');
  if (colon <= 0 || colon === gtrid.length - 1) return undefined;
  return { nodeId: gtrid.slice(0, colon), globalId: gtrid.slice(colon + 1), branch };
}

/** Checks an xid from any source (a caller, an operator) against XA's limits. */
export function assertValidXid(xid: unknown, argument = 'xid'): asserts xid is Xid {
  const x = xid as Partial<Xid> | null;
  if (x === null || typeof x !== 'object') throw new UsageError(argument, 'expected {formatId, gtrid, bqual}; build one with datakeepXid()');
  if (!Number.isInteger(x.formatId) || (x.formatId as number) < 0 || (x.formatId as number) > 0x7fffffff) {
    throw new UsageError(`${argument}.formatId`, `expected an integer between 0 and 2147483647, got ${String(x.formatId)}`);
  }
  if (!Buffer.isBuffer(x.gtrid) || x.gtrid.length === 0 || x.gtrid.length > XA_MAX_GTRID_BYTES) {
    throw new UsageError(`${argument}.gtrid`, `expected a Buffer of 1 to ${XA_MAX_GTRID_BYTES} bytes`);
  }
  if (!Buffer.isBuffer(x.bqual) || x.bqual.length > XA_MAX_BQUAL_BYTES) {
    throw new UsageError(`${argument}.bqual`, `expected a Buffer of 0 to ${XA_MAX_BQUAL_BYTES} bytes`);
  }
}

/** The xid as it appears in XA statements: hex literals, so that arbitrary bytes are safe. */
export function xidSql(xid: Xid): string {
  return `X'${xid.gtrid.toString('hex')}',X'${xid.bqual.toString('hex')}',${xid.formatId}`;
}

/** A stable string form for logs, maps and equality. */
export function xidKey(xid: Xid): string {
  return `${xid.formatId}:${xid.gtrid.toString('hex')}:${xid.bqual.toString('hex')}`;
}

/**
 * One row of `XA RECOVER` (formatID, gtrid_length, bqual_length, data) back into an xid. `data` is gtrid followed by
 * bqual; the driver returns it as a Buffer because the column is binary.
 */
export function xidFromRecoverRow(row: Record<string, unknown>): Xid {
  const formatId = Number(row.formatID);
  const gtridLength = Number(row.gtrid_length);
  const bqualLength = Number(row.bqual_length);
  const raw = row.data;
  const data = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw), 'latin1');
  if (!Number.isInteger(gtridLength) || !Number.isInteger(bqualLength) || gtridLength + bqualLength > data.length) {
    throw new Error(`internal: unexpected XA RECOVER row (gtrid_length ${String(row.gtrid_length)}, bqual_length ${String(row.bqual_length)}, ${data.length} data bytes)`);
  }
  return Object.freeze({
    formatId,
    gtrid: Buffer.from(data.subarray(0, gtridLength)),
    bqual: Buffer.from(data.subarray(gtridLength, gtridLength + bqualLength)),
  });
}

function strictUtf8(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text, 'utf8') === bytes.length && Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

const BRANCH = /^[1-9][0-9]{0,2}$/;
const DECIDED_BRANCH = /^([1-9][0-9]{0,2})(?::([A-Za-z0-9_.-]{1,60}))?$/;

/**
 * The XA xid of a distributed transaction's branch: gtrid `node:global` (at most 63 bytes), bqual the branch number,
 * followed by `:<adapter id>` when a commit-markable participant's decision row decides the transaction (at most
 * 3 + 1 + 60 bytes of the bqual's 64).
 */
export function mariadbXid(id: { nodeId: string; globalId: string; branch: string; decidedBy?: string | undefined }): Xid {
  if (!BRANCH.test(id.branch)) throw new UsageError('branch', `"${id.branch}" is not a branch number`);
  const branch = id.decidedBy === undefined ? id.branch : `${id.branch}:${id.decidedBy}`;
  if (!DECIDED_BRANCH.test(branch)) throw new UsageError('decidedBy', `"${id.decidedBy}" cannot go into an XA branch qualifier (up to 60 letters, digits, _ . -)`);
  return datakeepXid({ ...id, branch });
}

/** The branch number and decision holder of a datakeep bqual (see mariadbXid); undefined when it is not one. */
export function splitMariadbBranch(bqual: string): { branch: string; decidedBy: string | undefined } | undefined {
  const m = DECIDED_BRANCH.exec(bqual);
  return m ? { branch: m[1]!, decidedBy: m[2] } : undefined;
}
