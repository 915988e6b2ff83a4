import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError, UsageError } from '../errors/index.js';
import { migrationChecksum } from './migration-checksum.js';
import type { MigrationFile } from './migration-types.js';
import { parseSqlMigration } from './parse-sql-migration.js';

const VERSIONED = /^(\d{1,32})_([A-Za-z0-9][A-Za-z0-9_-]*)\.(sql|ts|js|mjs)$/;
const REPEATABLE = /^R__([A-Za-z0-9][A-Za-z0-9_-]*)\.(sql)$/;
const LOOKS_LIKE_MIGRATION = /\.(sql|ts|js|mjs)$/;

export interface DiscoveredDirectory {
  /** Migrations in the directory itself (they target the default database). */
  readonly files: MigrationFile[];
  /** Subdirectory name -> its migrations (a subdirectory targets the database with that id). */
  readonly subdirectories: Map<string, MigrationFile[]>;
}

/** Reads a migration directory and its first level of subdirectories. */
export function discoverMigrations(directory: string): DiscoveredDirectory {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch (cause) {
    throw new ConfigurationError('migrations.directory', `"${directory}" cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, 'Create the directory or fix the path', { cause });
  }
  const subdirectories = new Map<string, MigrationFile[]>();
  for (const entry of entries) {
    if (statSync(join(directory, entry)).isDirectory()) subdirectories.set(entry, readMigrationFiles(join(directory, entry)));
  }
  return { files: readMigrationFiles(directory), subdirectories };
}

/** The migration files of one directory (not recursive), sorted: versioned by version, then repeatable by name. */
export function readMigrationFiles(directory: string): MigrationFile[] {
  const files: MigrationFile[] = [];
  const byVersion = new Map<string, string>();
  for (const entry of readdirSync(directory).sort()) {
    const path = join(directory, entry);
    if (!statSync(path).isFile() || entry.endsWith('.d.ts') || entry.endsWith('.map')) continue;
    const versioned = VERSIONED.exec(entry);
    const repeatable = REPEATABLE.exec(entry);
    if (!versioned && !repeatable) {
      if (LOOKS_LIKE_MIGRATION.test(entry)) {
        throw new UsageError(path, 'is not a migration file name. Name it VERSION_name.sql|ts|js (VERSION = digits, e.g. 20240101120000_create_users.sql) or R__name.sql for a repeatable migration; keep other files out of the migrations directory');
      }
      continue;
    }
    const text = readFileSync(path, 'utf8');
    const checksum = migrationChecksum(text);
    if (repeatable) {
      const { up, down } = parseSqlMigration(text, path);
      files.push({ version: `R__${repeatable[1]}`, name: repeatable[1]!, kind: 'repeatable', path, checksum, up, down, hasDown: down !== undefined });
      continue;
    }
    const version = versioned![1]!;
    const other = byVersion.get(version);
    if (other) throw new UsageError(path, `has version ${version}, which ${other} already uses; versions must be unique (rename one)`);
    byVersion.set(version, entry);
    if (versioned![3] === 'sql') {
      const { up, down } = parseSqlMigration(text, path);
      files.push({ version, name: versioned![2]!, kind: 'sql', path, checksum, up, down, hasDown: down !== undefined });
    } else {
      files.push({ version, name: versioned![2]!, kind: 'module', path, checksum, up: undefined, down: undefined, hasDown: /\bexport\s+(async\s+)?(function\s+down\b|const\s+down\b)|\bdown\s*[:(]/.test(text) });
    }
  }
  return files.sort(compareMigrations);
}

/** Versioned migrations by numeric version, then repeatable ones by name. */
export function compareMigrations(a: { version: string; kind: string }, b: { version: string; kind: string }): number {
  const ar = a.version.startsWith('R__');
  const br = b.version.startsWith('R__');
  if (ar !== br) return ar ? 1 : -1;
  if (ar) return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
  return compareVersions(a.version, b.version);
}

/** Numeric comparison of digit strings of any length (leading zeros ignored). */
export function compareVersions(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}
