import { z } from 'zod';
import type { LogLevel } from '../util/logger.js';
import { backupsSectionSchema } from './backups-schema.js';
import { cacheSectionSchema } from './cache-schema.js';
import { object, oneOf, text } from './config-fields.js';
import { describeValue } from './describe-value.js';
import { migrationsSectionSchema } from './migrations-schema.js';
import { hint } from './parse-config.js';
import { serverSchema } from './server-schema.js';
import { stateSchema } from './state-schema.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];

// Building the schema costs more than using it; one per working directory (usually one per process).
const schemas = new Map<string, ReturnType<typeof buildSchema>>();

/**
 * The whole file, one schema per section. A new section (lifecycle, replication, server) is one more line here with
 * its schema in its own file; until it exists its key is refused like any other unknown key. `databases` entries are
 * checked by resolveDatabaseConfigs (each engine's schema, URLs); `transactions` is checked for its shape here and
 * fully by the transaction manager when first used (and by `datakeep config check`).
 */
export function datakeepConfigSchema(cwd: string): ReturnType<typeof buildSchema> {
  let schema = schemas.get(cwd);
  if (!schema) {
    schema = buildSchema(cwd);
    schemas.set(cwd, schema);
  }
  return schema;
}

function buildSchema(cwd: string) {
  return object(
    {
      $schema: text().optional(),
      databases: z.unknown().optional(),
      state: stateSchema(cwd),
      logLevel: oneOf(LOG_LEVELS, 'a log level').default('warn'),
      migrations: migrationsSectionSchema.optional(),
      backups: backupsSectionSchema.optional(),
      transactions: z
        .looseObject({}, { error: (iss) => hint(`expected an object, got ${describeValue(iss.input)}`, 'Write "transactions": {"nodeId": "...", "recoveryInterval": 30000}') })
        .optional(),
      // Checked by resolveLifecycleConfig in loadConfig (its errors name lifecycle.retention[0]... like the others).
      lifecycle: z.unknown().optional(),
      // Checked by parseReplicationConfig in loadConfig (errors name replication.replicas[0].port ...).
      replication: z.unknown().optional(),
      server: serverSchema(cwd),
      cache: cacheSectionSchema.optional(),
    },
    'Write {"databases": [...], "state": {...}}',
  );
}
