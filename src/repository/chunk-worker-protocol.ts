import type { RepositoryErrorReason } from '../errors/repository-error.js';

/** Messages between the chunk pool and its worker threads. */
export type WorkerRequest =
  | { op: 'id'; seq: number; data: Uint8Array }
  | { op: 'encode'; seq: number; key: string }
  | { op: 'drop'; seq: number }
  | { op: 'decode'; seq: number; key: string; id: string | undefined; data: Uint8Array };

export type WorkerReply =
  | { seq: number; id: string }
  | { seq: number; data: Uint8Array }
  | { seq: number; error: { reason: RepositoryErrorReason; message: string; object: string | undefined } };
