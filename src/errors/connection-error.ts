import { DatakeepError } from './datakeep-error.js';

/**
 * The database could not be reached, or the connection broke. `retriable` says whether the operation certainly did not
 * run (safe to retry); `outcomeUnknown` marks a COMMIT whose result was lost with the connection.
 */
export class ConnectionError extends DatakeepError {
  readonly adapterId: string;
  readonly retriable: boolean;
  readonly outcomeUnknown: boolean;

  constructor(
    adapterId: string,
    message: string,
    options: { cause?: unknown; retriable?: boolean; outcomeUnknown?: boolean } = {},
  ) {
    super('DK_CONNECTION', `${adapterId}: ${message}`, options);
    this.adapterId = adapterId;
    this.retriable = options.retriable ?? false;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}
