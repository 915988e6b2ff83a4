import type { SystemCheck } from './system-check.js';

/** The result of `DataManager.validateSystem()`; `valid` is false when any check's status is 'error'. */
export interface SystemValidation {
  readonly valid: boolean;
  /** `<check name>: <detail>` of every check in error. */
  readonly errors: readonly string[];
  /** `<check name>: <detail>` of every check that warns. */
  readonly warnings: readonly string[];
  readonly checkedAt: Date;
  /** Every check that ran, named, with its status and detail (for the CLI's --json, the API and the dashboard). */
  readonly checks: readonly SystemCheck[];
}

/** The validation made of `checks`. */
export function systemValidation(checks: readonly SystemCheck[], checkedAt = new Date()): SystemValidation {
  const lines = (status: SystemCheck['status']) => checks.filter((c) => c.status === status).map((c) => `${c.name}: ${c.detail}`);
  const errors = lines('error');
  return { valid: errors.length === 0, errors, warnings: lines('warn'), checkedAt, checks };
}
