import type { IsolationLevel } from '../../adapters/capabilities.js';

/** BEGIN with options, in PostgreSQL syntax (also PGlite's). Levels are validated before this is called. */
export function postgresBegin(isolationLevel: IsolationLevel | undefined, readOnly: boolean): string[] {
  let statement = 'BEGIN';
  if (isolationLevel) statement += ` ISOLATION LEVEL ${isolationLevel.toUpperCase()}`;
  if (readOnly) statement += ' READ ONLY';
  return [statement];
}

/** PostgreSQL accepts READ UNCOMMITTED but runs it as READ COMMITTED, so it is not offered (no silent downgrade). */
export const POSTGRES_ISOLATION_LEVELS: readonly IsolationLevel[] = ['read committed', 'repeatable read', 'serializable'];
