import { DatakeepError } from './datakeep-error.js';

/** Calls are refused without touching the network because recent connection attempts kept failing. */
export class CircuitOpenError extends DatakeepError {
  readonly adapterId: string;
  readonly retryAt: Date;

  constructor(adapterId: string, consecutiveFailures: number, retryAt: Date, options?: { cause?: unknown }) {
    super(
      'DK_CIRCUIT_OPEN',
      `${adapterId}: circuit open after ${consecutiveFailures} consecutive connection failures; ` +
        `the next probe is allowed at ${retryAt.toISOString()}`,
      options,
    );
    this.adapterId = adapterId;
    this.retryAt = retryAt;
  }
}
