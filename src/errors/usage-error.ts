import { DatakeepError } from './datakeep-error.js';

/** A bad call argument (API or CLI): names the argument, what is wrong and how to fix it. */
export class UsageError extends DatakeepError {
  readonly argument: string;

  constructor(argument: string, message: string, options?: { cause?: unknown }) {
    super('DK_USAGE', `${argument}: ${message}`, options);
    this.argument = argument;
  }
}
