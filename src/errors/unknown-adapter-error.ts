import { DatakeepError } from './datakeep-error.js';

/** No adapter has the given id; the message lists the ids that exist. */
export class UnknownAdapterError extends DatakeepError {
  readonly adapterId: string;
  readonly knownIds: readonly string[];

  constructor(adapterId: string, knownIds: readonly string[]) {
    super(
      'DK_UNKNOWN_ADAPTER',
      `no database with id "${adapterId}"; known ids: ${knownIds.length ? knownIds.join(', ') : '(none configured)'}`,
    );
    this.adapterId = adapterId;
    this.knownIds = knownIds;
  }
}
