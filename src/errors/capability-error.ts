import { DatakeepError } from './datakeep-error.js';

/** The engine cannot do what was asked. Names the capability and what to use instead. */
export class CapabilityError extends DatakeepError {
  readonly adapterId: string;
  readonly capability: string;
  readonly alternative: string;

  constructor(adapterId: string, capability: string, reason: string, alternative: string) {
    super('DK_CAPABILITY', `${adapterId}: ${capability} is not supported: ${reason}. ${alternative}`);
    this.adapterId = adapterId;
    this.capability = capability;
    this.alternative = alternative;
  }
}
