import type { RestoreTarget, RestoreTargetSpec } from './backup-types.js';

/**
 * A restore target as it may be logged and recorded: its URL without the password, and its other fields.
 */
export function describeRestoreTarget(target: RestoreTarget): string {
  if (typeof target === 'string') return target.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
  const { url, ...rest } = target;
  const parts = Object.entries(rest).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`);
  return [describeRestoreTarget(url), ...parts].join(' ');
}

/** The target as its parts (a bare URL is `{url}`): what the engines' restores read. */
export function restoreTargetSpec(target: RestoreTarget): RestoreTargetSpec {
  return typeof target === 'string' ? { url: target } : target;
}
