/**
 * One named check of `validateSystem()`. `status` says what was found: 'ok'; 'warn' (works, but needs attention soon);
 * 'error' (a fault that loses data or availability: the validation is invalid); 'skipped' (the check does not apply to
 * this configuration, e.g. no backup destination configured).
 */
export type CheckStatus = 'ok' | 'warn' | 'error' | 'skipped';

export interface SystemCheck {
  /** Stable, `<area>[:<kind>]:<subject>`, e.g. `connectivity:pg-main`, `backup:age:pg-main`, `state-store`. */
  readonly name: string;
  readonly status: CheckStatus;
  /** What was found, with the figures behind the status and, for a warning or an error, how to fix it. No secrets. */
  readonly detail: string;
  /** False for a warning or an error (kept from the first versions of this result, for dashboards that read it). */
  readonly ok: boolean;
  /** The same as `detail` (the first versions' name for it). */
  readonly message: string;
}

/** A check with its compatibility fields filled in. */
export function systemCheck(name: string, status: CheckStatus, detail: string): SystemCheck {
  return { name, status, detail, ok: status === 'ok' || status === 'skipped', message: detail };
}

/**
 * A subsystem's contribution to `validateSystem()`: its checks, computed from its own state. The monitoring layer runs
 * every provider and knows nothing of what it checks (no subsystem import, no engine test).
 */
export interface CheckProvider {
  /** Names the provider in the error check that replaces its checks when it throws or does not answer in time. */
  readonly name: string;
  checks(): Promise<readonly SystemCheck[]>;
}
