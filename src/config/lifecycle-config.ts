import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { ConfigurationError } from '../errors/index.js';
import { cronProblem } from './cron-expression.js';
import { hint, parseConfig } from './parse-config.js';
import { isTimeZone, TIME_ZONE_FIX } from './time-zone.js';
import type { LifecyclePolicy } from '../lifecycle/lifecycle-policy.js';

/** The age column used when a policy gives none. */
export const DEFAULT_AGE_COLUMN = 'created_at';

/** Defaults of every policy field a configuration leaves out, in one place. */
export const LIFECYCLE_DEFAULTS = Object.freeze({
  schedule: '0 3 * * *',
  timeZone: 'UTC',
  batchSize: 1000,
  pauseMs: 20,
  lockTimeoutMs: 1000,
  maxReplicaLagSeconds: 30,
  priority: 100,
});

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

const windowSchema = z.strictObject({
  start: z.string().regex(HHMM, { error: (iss) => hint(`${JSON.stringify(iss.input)} is not a time of day`, 'Write "HH:MM" on a 24-hour clock, e.g. "22:00"') }),
  end: z.string().regex(HHMM, { error: (iss) => hint(`${JSON.stringify(iss.input)} is not a time of day`, 'Write "HH:MM" on a 24-hour clock, e.g. "04:00"') }),
});

/** What every policy may say about how and when it runs. */
const runFields = {
  name: z.string().min(1).optional(),
  database: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(100_000).optional(),
  pauseMs: z.number().int().min(0).max(3_600_000).optional(),
  lockTimeout: z.number().int().min(1).max(600_000).optional(),
  maxReplicaLag: z.number().min(0).optional(),
  schedule: z.string().min(1).optional(),
  timeZone: z.string().min(1).optional(),
  window: windowSchema.optional(),
  partitions: z.boolean().optional(),
  allowAll: z.boolean().optional(),
  priority: z.number().int().optional(),
};

/** Which rows: a table, a collection or a key pattern; older than an age and/or matching a condition. */
const targetFields = {
  table: z.string().min(1).optional(),
  collection: z.string().min(1).optional(),
  keyPattern: z.string().min(1).optional(),
  timestampColumn: z.string().min(1).optional(),
  where: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  idleSeconds: z.number().int().min(1).optional(),
};

const retentionSchema = z.strictObject({
  ...targetFields,
  ...runFields,
  retentionDays: z.number({ error: () => hint('is not a number', 'Give the age in days, e.g. 90') }).positive({ error: () => hint('must be more than 0 days (a retention of 0 would remove every row at once)', 'Give the age in days after which rows go, e.g. 90') }).optional(),
  action: z.enum(['delete', 'archive']).default('delete'),
});

const archivalRuleSchema = z.strictObject({
  ...targetFields,
  ...runFields,
  ageThreshold: z.number({ error: () => hint('is not a number', 'Give the age in days, e.g. 365') }).positive({ error: () => hint('must be more than 0 days', 'Give the age in days after which rows are archived, e.g. 365') }).optional(),
});

const archivalSchema = z.strictObject({
  enabled: z.boolean().default(true),
  destination: z.string().min(1).optional(),
  /** The archive repository's passphrase file (else the backups' passphraseFile, then DATAKEEP_REPO_PASSPHRASE(_FILE)). */
  passphraseFile: z.string().min(1).optional(),
  /** false: archives are authenticated but not secret (a publicly known key), as for backups. */
  encryption: z.boolean().optional(),
  rules: z.array(archivalRuleSchema).default([]),
});

const cleanupRuleSchema = z.strictObject({
  ...targetFields,
  ...runFields,
  /** Soft-deleted rows: this column is set (a deletion time) and older than `graceDays`. */
  softDeleteColumn: z.string().min(1).optional(),
  graceDays: z.number().positive().optional(),
  /** Expired rows (sessions): this column holds the expiry time and it has passed. */
  expiresColumn: z.string().min(1).optional(),
  action: z.enum(['delete', 'archive']).default('delete'),
});

const cleanupSchema = z.strictObject({
  enabled: z.boolean().default(true),
  schedule: z.string().min(1).optional(),
  timeZone: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(100_000).optional(),
  window: windowSchema.optional(),
  rules: z.array(cleanupRuleSchema).default([]),
  /** datakeep's own leftovers: job runs and audit entries of restore drills older than this many days. */
  stateHistoryDays: z.number().int().min(1).optional(),
});

/** The seed's `DataLifecycleConfig`, with every field optional beyond it. */
export const lifecycleConfigSchema = z.strictObject({
  retention: z.array(retentionSchema).default([]),
  archival: archivalSchema.optional(),
  cleanup: cleanupSchema.optional(),
});

export type DataLifecycleConfig = z.input<typeof lifecycleConfigSchema>;
export type RetentionPolicyConfig = z.input<typeof retentionSchema>;
export type ArchivalPolicyConfig = z.input<typeof archivalSchema>;
export type CleanupPolicyConfig = z.input<typeof cleanupSchema>;

export interface ResolvedLifecycleConfig {
  readonly policies: readonly LifecyclePolicy[];
  readonly archive: { readonly destination: string | undefined; readonly passphraseFile: string | undefined; readonly encryption: boolean | undefined };
  readonly cleanup: { readonly enabled: boolean; readonly stateHistoryDays: number | undefined; readonly schedule: string; readonly timeZone: string };
}

/**
 * Turns the seed's lifecycle configuration into policies, checking everything that can be checked without a
 * database: every error names the field path (`lifecycle.retention[0].retentionDays`), what is wrong and the fix.
 */
export function resolveLifecycleConfig(input: unknown, field = 'lifecycle'): ResolvedLifecycleConfig {
  const config = parseConfig(lifecycleConfigSchema, input, field);
  const cleanup = config.cleanup;
  const base = {
    schedule: cleanup?.schedule ?? LIFECYCLE_DEFAULTS.schedule,
    timeZone: cleanup?.timeZone ?? LIFECYCLE_DEFAULTS.timeZone,
    batchSize: cleanup?.batchSize ?? LIFECYCLE_DEFAULTS.batchSize,
    window: cleanup?.window,
  };
  const policies: LifecyclePolicy[] = [];
  config.retention.forEach((rule, i) => {
    const path = `${field}.retention[${i}]`;
    policies.push(policyFrom(rule, 'retention', path, base, {
      age: rule.retentionDays === undefined ? undefined : { column: rule.timestampColumn ?? DEFAULT_AGE_COLUMN, days: rule.retentionDays },
      action: rule.action,
      destination: config.archival?.destination,
      ageField: 'retentionDays',
    }));
  });
  if (config.archival && config.archival.enabled) {
    config.archival.rules.forEach((rule, i) => {
      const path = `${field}.archival.rules[${i}]`;
      policies.push(policyFrom(rule, 'archival', path, base, {
        age: rule.ageThreshold === undefined ? undefined : { column: rule.timestampColumn ?? DEFAULT_AGE_COLUMN, days: rule.ageThreshold },
        action: 'archive',
        destination: config.archival?.destination,
        ageField: 'ageThreshold',
      }));
    });
  }
  if (cleanup && cleanup.enabled) {
    cleanup.rules.forEach((rule, i) => {
      const path = `${field}.cleanup.rules[${i}]`;
      let age = rule.graceDays === undefined ? undefined : { column: rule.softDeleteColumn ?? rule.timestampColumn ?? DEFAULT_AGE_COLUMN, days: rule.graceDays };
      const where = typeof rule.where === 'string' ? rule.where : undefined;
      if (rule.softDeleteColumn !== undefined && rule.graceDays === undefined) {
        throw new ConfigurationError(`${path}.graceDays`, 'is missing', 'Give how many days a soft-deleted row is kept before it goes, e.g. "graceDays": 30');
      }
      if (rule.expiresColumn !== undefined) {
        if (age !== undefined) throw new ConfigurationError(`${path}.expiresColumn`, 'is given together with graceDays', 'Use expiresColumn alone (rows go once it has passed) or softDeleteColumn with graceDays');
        // An expiry column needs no age: the row has expired once the time in it has passed.
        age = { column: rule.expiresColumn, days: 0 };
      }
      policies.push(policyFrom({ ...rule, where }, 'cleanup', path, base, { age, action: rule.action, destination: config.archival?.destination, ageField: 'graceDays' }));
    });
  }
  const names = new Map<string, number>();
  policies.forEach((p, i) => {
    if (names.has(p.name)) throw new ConfigurationError(`${field} (policy "${p.name}")`, 'two policies have the same name', 'Give one of them a distinct "name"');
    names.set(p.name, i);
  });
  policies.sort((a, b) => a.priority - b.priority);
  return Object.freeze({
    policies: Object.freeze(policies),
    archive: Object.freeze({
      destination: config.archival?.destination === undefined ? undefined : resolvePath(config.archival.destination),
      passphraseFile: config.archival?.passphraseFile,
      encryption: config.archival?.encryption,
    }),
    cleanup: Object.freeze({ enabled: cleanup?.enabled ?? false, stateHistoryDays: cleanup?.stateHistoryDays, schedule: base.schedule, timeZone: base.timeZone }),
  });
}

type RuleInput = z.output<typeof retentionSchema> | z.output<typeof archivalRuleSchema> | z.output<typeof cleanupRuleSchema>;

function policyFrom(
  rule: RuleInput,
  kind: LifecyclePolicy['kind'],
  path: string,
  base: { schedule: string; timeZone: string; batchSize: number; window: LifecyclePolicy['window'] },
  extra: { age: LifecyclePolicy['age']; action: LifecyclePolicy['action']; destination: string | undefined; ageField: string },
): LifecyclePolicy {
  const targets = [rule.table, rule.collection, rule.keyPattern].filter((t) => t !== undefined);
  if (targets.length !== 1) {
    throw new ConfigurationError(path, targets.length === 0 ? 'names no target' : 'names more than one target', 'Give exactly one of "table", "collection" or "keyPattern"');
  }
  if (extra.age === undefined && rule.where === undefined && rule.idleSeconds === undefined) {
    throw new ConfigurationError(`${path}.${extra.ageField}`, 'is missing, and there is no "where" condition either', `Give ${extra.ageField} (days), or a "where" condition that says which rows go`);
  }
  if (rule.idleSeconds !== undefined && rule.keyPattern === undefined) {
    throw new ConfigurationError(`${path}.idleSeconds`, 'applies only to Redis key patterns', 'Remove idleSeconds, or use keyPattern');
  }
  if (extra.action === 'archive' && extra.destination === undefined) {
    throw new ConfigurationError(`${path}.action`, 'is "archive", but archival.destination is not set', 'Set "archival": {"destination": "./archives"} (the archive repository\'s root)');
  }
  const timeZone = rule.timeZone ?? base.timeZone;
  assertTimeZone(timeZone, rule.timeZone === undefined ? `${path.replace(/\.(retention|archival|cleanup).*$/, '')}.cleanup.timeZone` : `${path}.timeZone`);
  assertSchedule(rule.schedule ?? base.schedule, timeZone, rule.schedule === undefined ? `${path.replace(/\.(retention|archival|cleanup).*$/, '')}.cleanup.schedule` : `${path}.schedule`);
  const target = rule.table ?? rule.collection ?? rule.keyPattern!;
  return Object.freeze({
    name: rule.name ?? `${kind}:${target}`,
    kind,
    database: rule.database,
    table: rule.table,
    collection: rule.collection,
    keyPattern: rule.keyPattern,
    age: extra.age,
    where: typeof rule.where === 'string' ? rule.where : rule.where === undefined ? undefined : JSON.stringify(rule.where),
    idleSeconds: rule.idleSeconds,
    action: extra.action,
    batchSize: rule.batchSize ?? base.batchSize,
    pauseMs: rule.pauseMs ?? LIFECYCLE_DEFAULTS.pauseMs,
    lockTimeoutMs: rule.lockTimeout ?? LIFECYCLE_DEFAULTS.lockTimeoutMs,
    maxReplicaLagSeconds: rule.maxReplicaLag ?? LIFECYCLE_DEFAULTS.maxReplicaLagSeconds,
    schedule: rule.schedule ?? base.schedule,
    timeZone,
    window: rule.window ?? base.window,
    partitions: rule.partitions ?? true,
    allowAll: rule.allowAll ?? false,
    priority: rule.priority ?? LIFECYCLE_DEFAULTS.priority,
    archiveDestination: extra.destination === undefined ? undefined : resolvePath(extra.destination),
  });
}

function assertTimeZone(zone: string, field: string): void {
  if (!isTimeZone(zone)) throw new ConfigurationError(field, `${JSON.stringify(zone)} is not an IANA time zone`, TIME_ZONE_FIX);
}

function assertSchedule(expression: string, zone: string, field: string): void {
  const found = cronProblem(expression, zone);
  if (found) throw new ConfigurationError(field, found.problem, found.fix);
}
