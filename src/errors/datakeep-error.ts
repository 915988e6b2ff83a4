import { redactUrlPasswords } from '../util/secrets.js';

/** Stable, documented error codes. Callers switch on `code` (or use `instanceof`), never on message text. */
export type ErrorCode =
  | 'DK_CONFIG'
  | 'DK_CONNECTION'
  | 'DK_QUERY'
  | 'DK_TIMEOUT'
  | 'DK_CIRCUIT_OPEN'
  | 'DK_CAPABILITY'
  | 'DK_UNKNOWN_ADAPTER'
  | 'DK_LIFECYCLE'
  | 'DK_TRANSACTION'
  | 'DK_STATE'
  | 'DK_USAGE'
  | 'DK_MIGRATION'
  | 'DK_BACKUP'
  | 'DK_REPOSITORY'
  | 'DK_LOCK'
  | 'DK_DATA_LIFECYCLE'
  | 'DK_REPLICATION';

/**
 * Base class of every error datakeep throws. A URL's password in the message (a driver that echoes its connection
 * string) is redacted at construction, so an error can be logged or serialised anywhere; other secrets never reach a
 * message because messages are built from field names, not values. The driver's original error is kept as `cause`.
 */
export class DatakeepError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(redactUrlPasswords(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const [key, value] of Object.entries(this)) {
      if (key !== 'cause' && value !== undefined) out[key] = value;
    }
    return out;
  }
}
