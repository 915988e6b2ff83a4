/**
 * The most parallel workers one backup, restore or repository may use (chunk threads, files in flight). One limit,
 * checked by the backups schema, the repository and the PostgreSQL backup driver alike, so that a value the
 * configuration check accepts is never refused later.
 */
export const MAX_WORKERS = 64;
