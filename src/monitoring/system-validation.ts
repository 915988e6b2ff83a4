/** The result of `DataManager.validateSystem()`; `valid` is false when any error was found. */
export interface SystemValidation {
  readonly valid: boolean;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  readonly checkedAt: Date;
  /** One entry per check that ran, for dashboards and `--json` output. */
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly message: string }[];
}
