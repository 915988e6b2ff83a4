import { DatakeepError } from './datakeep-error.js';

/** Bad configuration: names the field (a dotted path such as `databases[1].port`), what is wrong, and the fix. */
export class ConfigurationError extends DatakeepError {
  readonly field: string;
  readonly problem: string;
  readonly fix: string;

  constructor(field: string, problem: string, fix: string, options?: { cause?: unknown }) {
    super('DK_CONFIG', `${field}: ${problem}. ${fix}`, options);
    this.field = field;
    this.problem = problem;
    this.fix = fix;
  }
}
