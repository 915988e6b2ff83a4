import { MongoError, MongoServerError } from 'mongodb';

export const TRANSIENT_TRANSACTION_ERROR = 'TransientTransactionError';
export const UNKNOWN_TRANSACTION_COMMIT_RESULT = 'UnknownTransactionCommitResult';
/** MongoDB's MaxTimeMSExpired: a commit that ran out of maxCommitTimeMS is not retried (the driver spec says so). */
const MAX_TIME_MS_EXPIRED = 50;

export type TransactionRetryAction = 'retry-body' | 'retry-commit' | 'fail';

export interface TransactionRetryDecision {
  readonly action: TransactionRetryAction;
  /** Milliseconds to wait before a body re-run (0 otherwise). */
  readonly delayMs: number;
  /** True when the error would have been retried but the time limit is spent. */
  readonly timedOut: boolean;
  readonly reason: string;
}

export interface TransactionRetryInput {
  /** Where the error surfaced: the callback (or a command inside it), or `commitTransaction`. */
  readonly phase: 'body' | 'commit';
  readonly error: unknown;
  /** Milliseconds since the `transaction()` call started. */
  readonly elapsedMs: number;
  readonly timeLimitMs: number;
  /** How many times the body has run so far (1 after the first run). */
  readonly bodyRuns: number;
  /** The caller's cap on body runs, if any; the time limit always applies. */
  readonly maxBodyRuns?: number;
  readonly random?: () => number;
}

/**
 * The MongoDB transaction retry rules (the driver specification's "convenient transaction API", written out so that
 * each rule is visible and tested on its own):
 * - an error labelled TransientTransactionError, from the body or from the commit, re-runs the whole body after a
 *   short jittered backoff (5 ms growing 1.5x to 500 ms), unless that backoff would cross the time limit;
 * - a commit error labelled UnknownTransactionCommitResult re-runs only the commit (the driver then uses majority
 *   write concern), unless it is MaxTimeMSExpired or the time limit is spent;
 * - anything else fails at once.
 * Labels are looked up through `cause` chains, so a datakeep error wrapping a driver error keeps its labels.
 */
export function decideTransactionRetry(input: TransactionRetryInput): TransactionRetryDecision {
  const labels = errorLabels(input.error);
  const outOfTime = input.elapsedMs >= input.timeLimitMs;
  if (input.phase === 'commit' && labels.has(UNKNOWN_TRANSACTION_COMMIT_RESULT) && !isMaxTimeMsExpired(input.error)) {
    if (outOfTime) return fail(true, `the commit outcome is still unknown after ${Math.round(input.elapsedMs)} ms (time limit ${input.timeLimitMs} ms)`);
    return { action: 'retry-commit', delayMs: 0, timedOut: false, reason: 'commit outcome unknown (UnknownTransactionCommitResult): re-running only the commit' };
  }
  if (labels.has(TRANSIENT_TRANSACTION_ERROR)) {
    if (input.maxBodyRuns !== undefined && input.bodyRuns >= input.maxBodyRuns) {
      return fail(false, `transient error after ${input.bodyRuns} run(s), the maxAttempts given`);
    }
    const delayMs = transactionBackoff(input.bodyRuns, input.random);
    if (outOfTime || input.elapsedMs + delayMs >= input.timeLimitMs) {
      return fail(true, `transient error, but the time limit of ${input.timeLimitMs} ms is spent (${Math.round(input.elapsedMs)} ms elapsed)`);
    }
    return { action: 'retry-body', delayMs, timedOut: false, reason: 'TransientTransactionError: re-running the whole transaction' };
  }
  return fail(false, input.phase === 'commit' ? 'the commit failed with a non-retriable error' : 'the transaction body failed with a non-retriable error');
}

/** Jittered backoff before body run `attempt + 1`: random * min(5 ms * 1.5^attempt, 500 ms), as the driver does. */
export function transactionBackoff(attempt: number, random: () => number = Math.random): number {
  return random() * Math.min(5 * 1.5 ** attempt, 500);
}

/** Every error label found on the error and its `cause` chain (driver errors keep labels in `errorLabels`). */
export function errorLabels(error: unknown): Set<string> {
  const out = new Set<string>();
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 8; depth += 1) {
    if (current instanceof MongoError) {
      for (const label of current.errorLabels) out.add(label);
    } else {
      const labels = (current as { errorLabels?: unknown }).errorLabels;
      if (Array.isArray(labels)) for (const label of labels) if (typeof label === 'string') out.add(label);
    }
    current = (current as { cause?: unknown }).cause;
  }
  return out;
}

function isMaxTimeMsExpired(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 8; depth += 1) {
    if (current instanceof MongoServerError) {
      const wce = current.writeConcernError as { code?: unknown } | undefined;
      return current.code === MAX_TIME_MS_EXPIRED || wce?.code === MAX_TIME_MS_EXPIRED;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function fail(timedOut: boolean, reason: string): TransactionRetryDecision {
  return { action: 'fail', delayMs: 0, timedOut, reason };
}
