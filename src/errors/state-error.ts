import { DatakeepError } from './datakeep-error.js';

/** The state store could not be opened or upgraded. */
export class StateError extends DatakeepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DK_STATE', message, options);
  }
}
