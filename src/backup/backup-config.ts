import { backupConfigSchema, type BackupConfig } from '../config/backups-schema.js';
import { parseConfig } from '../config/parse-config.js';
import type { RetentionPolicy } from './retention-policy.js';

export type { BackupConfig } from '../config/backups-schema.js';

export interface ResolvedBackupConfig {
  readonly type: BackupConfig['type'];
  readonly destination: string;
  readonly compression: boolean;
  readonly encryption: boolean;
  readonly retention: RetentionPolicy;
  readonly schedule: string | undefined;
  readonly timeZone: string;
  readonly databases: readonly string[] | undefined;
  readonly passphraseFile: string | undefined;
  readonly workers: number | undefined;
  readonly missedRunPolicy: 'run-once' | 'skip';
  readonly walTimeoutMs: number;
  readonly method: 'physical' | 'logical' | undefined;
  readonly tables: readonly string[] | undefined;
}

/** Validates a BackupConfig with the backups schema (src/config/backups-schema.ts); every error names the field and the fix. */
export function resolveBackupConfig(input: unknown, field = 'backupConfig'): ResolvedBackupConfig {
  return Object.freeze(parseConfig(backupConfigSchema, input, field));
}
