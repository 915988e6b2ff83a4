import { DatakeepError } from './datakeep-error.js';

/** The server rejected a statement. Carries the SQLSTATE (or engine error code) and the server's detail fields. */
export class QueryError extends DatakeepError {
  readonly adapterId: string;
  readonly sqlState: string | undefined;
  readonly detail: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;

  constructor(
    adapterId: string,
    message: string,
    fields: {
      sqlState?: string;
      detail?: string;
      constraint?: string;
      table?: string;
      column?: string;
      cause?: unknown;
    } = {},
  ) {
    super('DK_QUERY', `${adapterId}: ${message}${fields.sqlState ? ` (SQLSTATE ${fields.sqlState})` : ''}`, {
      cause: fields.cause,
    });
    this.adapterId = adapterId;
    this.sqlState = fields.sqlState;
    this.detail = fields.detail;
    this.constraint = fields.constraint;
    this.table = fields.table;
    this.column = fields.column;
  }
}
