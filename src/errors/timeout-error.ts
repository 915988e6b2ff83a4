import { DatakeepError } from './datakeep-error.js';

export type TimeoutKind = 'connect' | 'statement' | 'lock' | 'operation';

/** An operation exceeded its time limit. `kind` says which limit, `timeoutMs` its value. */
export class TimeoutError extends DatakeepError {
  readonly kind: TimeoutKind;
  readonly timeoutMs: number | undefined;

  constructor(kind: TimeoutKind, message: string, options: { timeoutMs?: number; cause?: unknown } = {}) {
    super('DK_TIMEOUT', message, options);
    this.kind = kind;
    this.timeoutMs = options.timeoutMs;
  }
}
