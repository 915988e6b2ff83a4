import type { RepositoryErrorReason } from '../errors/repository-error.js';
import type { ChunkWorkSettings } from './chunk-work.js';
import type { ChunkSizes } from './content-defined-chunker.js';

/** A worker's start data: the chunk work keys and settings, and the repository's chunking (for file scans). */
export interface ChunkPoolSettings extends ChunkWorkSettings {
  readonly chunking: ChunkSizes;
  readonly gear: Int32Array;
}

/** Messages between the chunk pool and its worker threads. `file` numbers a scan in progress (see FileScan). */
export type WorkerRequest =
  | { op: 'id'; seq: number; data: Uint8Array }
  | { op: 'encode'; seq: number; key: string }
  | { op: 'drop'; seq: number }
  | { op: 'decode'; seq: number; key: string; id: string | undefined; data: Uint8Array }
  | { op: 'scan-begin'; seq: number; file: number }
  | { op: 'scan'; seq: number; file: number; data: Uint8Array }
  | { op: 'scan-end'; seq: number; file: number }
  | { op: 'scan-abort'; seq: number; file: number };

export type WorkerReply =
  | { seq: number; id: string }
  | { seq: number; data: Uint8Array }
  | { seq: number; chunks: Uint8Array[]; sha256?: string; size?: number }
  | { seq: number; error: { reason: RepositoryErrorReason; message: string; object: string | undefined } };
