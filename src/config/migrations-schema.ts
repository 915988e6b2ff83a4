import { existsSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { flag, integer, nonEmptyText, object, oneOf, text } from './config-fields.js';
import { hint } from './parse-config.js';

/** The seed's `initializeMigrations` argument, plus options. */
export interface MigrationsConfig {
  /** Directory of migration files; subdirectories named after a database id target that database. */
  directory: string;
  /** History table (collection for MongoDB, key prefix for Redis). Default `datakeep_migrations`. */
  tableName?: string;
  /** Refuse to migrate when an applied migration's file changed (default true). */
  validateChecksums?: boolean;
  /** Apply pending migrations older than the newest applied one (merged branches). Default false. */
  allowOutOfOrder?: boolean;
  /** How long to wait for another runner's lock, ms (default 60000). */
  lockTimeout?: number;
  /** `lock-table` for PostgreSQL behind a pooler in transaction mode (advisory session locks do not work there). */
  lockMode?: 'session' | 'lock-table';
  /** Lease length for lease-based locks (lock table, Redis, MongoDB), ms (default 30000); renewed every third. */
  leaseTtl?: number;
}

/** The `migrations` section of the configuration file: defaults for `datakeep migrate`, every field optional. */
export type MigrationsSection = Partial<MigrationsConfig>;

const MS = ' (milliseconds)';
const FIX = 'Give {directory, tableName, validateChecksums}, e.g. "migrations": {"directory": "./migrations"}';
const DIRECTORY_FIX = 'Give the directory that holds the migration files, e.g. "./migrations"';
/** A table name datakeep may interpolate into SQL: `name` or `schema.name`, plain identifiers only. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

const fields = {
  tableName: text().refine((name) => TABLE_NAME.test(name), {
    error: (iss) => hint(`${JSON.stringify(iss.input)} is not a plain table name`, 'Use letters, digits and _ (optionally schema.table), starting with a letter or _'),
  }),
  validateChecksums: flag(),
  allowOutOfOrder: flag(),
  lockTimeout: integer(0, 86_400_000, MS),
  lockMode: oneOf(['session', 'lock-table'], 'a lock mode', 'Use "session" (advisory lock, default) or "lock-table" (behind a pooler in transaction mode)'),
  leaseTtl: integer(1000, 3_600_000, MS),
};

/** The section as the configuration file may give it (the directory may come from `--dir`; it need not exist yet). */
export const migrationsSectionSchema = object(
  {
    directory: nonEmptyText(DIRECTORY_FIX).optional(),
    tableName: fields.tableName.optional(),
    validateChecksums: fields.validateChecksums.optional(),
    allowOutOfOrder: fields.allowOutOfOrder.optional(),
    lockTimeout: fields.lockTimeout.optional(),
    lockMode: fields.lockMode.optional(),
    leaseTtl: fields.leaseTtl.optional(),
  },
  FIX,
);

/** `initializeMigrations(config)`: an existing directory, the other fields with their defaults. */
export const migrationsConfigSchema = object(
  {
    directory: nonEmptyText(DIRECTORY_FIX)
      .transform((directory) => resolvePath(directory))
      .refine((dir) => existsSync(dir) && statSync(dir).isDirectory(), {
        error: (iss) => hint(`"${String(iss.input)}" is not a directory`, 'Create it (datakeep migrate create NAME does) or fix the path'),
      }),
    tableName: fields.tableName.default('datakeep_migrations'),
    validateChecksums: fields.validateChecksums.default(true),
    allowOutOfOrder: fields.allowOutOfOrder.default(false),
    lockTimeout: fields.lockTimeout.default(60_000),
    lockMode: fields.lockMode.default('session'),
    leaseTtl: fields.leaseTtl.default(30_000),
  },
  FIX,
);
