import { DatakeepError } from './datakeep-error.js';

/**
 * Restoring a backup set stopped at one member. The members restored before it stay where they were restored (a live
 * server cannot be un-restored); `restored` names them and where they went, `failedDatabase` the member that failed.
 */
export class BackupSetError extends DatakeepError {
  constructor(
    message: string,
    readonly restored: readonly { readonly database: string; readonly to: string }[],
    readonly failedDatabase: string,
    options: { cause?: unknown } = {},
  ) {
    super('DK_BACKUP', message, options);
  }
}
