import type { AuditEntry, StateStore } from './state-store.js';

/**
 * Runs a change and appends its audit entry with the outcome: 'succeeded' with `details` (and what `result` adds),
 * or 'failed' with the error's message; the error is rethrown unchanged. `store` is asked for after the change, so a
 * change that opens the state store itself is not slowed by it; a store that cannot be opened does not hide the
 * change's own result or error (the audit failure is reported to `onAuditError`).
 */
export async function audited<T>(
  store: () => Promise<StateStore | undefined>,
  entry: Omit<AuditEntry, 'outcome'>,
  change: () => Promise<T>,
  options: { result?: (value: T) => Record<string, unknown>; onAuditError?: (error: unknown) => void } = {},
): Promise<T> {
  const record = async (outcome: 'succeeded' | 'failed', extra: Record<string, unknown>) => {
    try {
      await (await store())?.audit({ ...entry, outcome, details: { ...entry.details, ...extra } });
    } catch (error) {
      options.onAuditError?.(error);
    }
  };
  let value: T;
  try {
    value = await change();
  } catch (error) {
    await record('failed', { error: (error as Error)?.message ?? String(error) });
    throw error;
  }
  await record('succeeded', options.result?.(value) ?? {});
  return value;
}
