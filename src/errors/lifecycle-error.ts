import { DatakeepError } from './datakeep-error.js';

/** A method was called in the wrong lifecycle state (before initialize, after close). */
export class LifecycleError extends DatakeepError {
  constructor(message: string) {
    super('DK_LIFECYCLE', message);
  }
}
