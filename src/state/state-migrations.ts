/**
 * The state store's own schema, versioned. Append new versions; never edit a released one. Each version's statements
 * run in one transaction under an advisory lock, so several datakeep instances sharing a PostgreSQL state store
 * upgrade it exactly once.
 */
export interface StateMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export const STATE_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: 'audit log, job runs, schedules, leases',
    statements: [
      `CREATE TABLE datakeep.audit_log (
         id bigserial PRIMARY KEY,
         at timestamptz NOT NULL DEFAULT now(),
         actor text NOT NULL,
         action text NOT NULL,
         target text,
         dry_run boolean NOT NULL DEFAULT false,
         details jsonb NOT NULL DEFAULT '{}'
       )`,
      `CREATE TABLE datakeep.job_runs (
         id bigserial PRIMARY KEY,
         job text NOT NULL,
         kind text NOT NULL,
         started_at timestamptz NOT NULL DEFAULT now(),
         finished_at timestamptz,
         status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
         details jsonb NOT NULL DEFAULT '{}',
         error text
       )`,
      'CREATE INDEX job_runs_job_started ON datakeep.job_runs (job, started_at DESC)',
      `CREATE TABLE datakeep.schedules (
         name text PRIMARY KEY,
         kind text NOT NULL,
         cron text NOT NULL,
         timezone text NOT NULL DEFAULT 'UTC',
         config jsonb NOT NULL,
         enabled boolean NOT NULL DEFAULT true,
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE datakeep.leases (
         name text PRIMARY KEY,
         owner text NOT NULL,
         acquired_at timestamptz NOT NULL DEFAULT now(),
         expires_at timestamptz NOT NULL
       )`,
    ],
  },
  {
    version: 3,
    name: 'scheduled ticks: one run per job and tick across instances',
    statements: [
      'ALTER TABLE datakeep.job_runs ADD COLUMN scheduled_for timestamptz',
      'ALTER TABLE datakeep.job_runs ADD COLUMN instance text',
      'CREATE UNIQUE INDEX job_runs_one_per_tick ON datakeep.job_runs (job, scheduled_for) WHERE scheduled_for IS NOT NULL',
    ],
  },
  {
    version: 4,
    name: 'transaction coordinator log',
    statements: [
      // One row per distributed transaction, written before any branch is prepared; see src/transactions/coordinator-log.ts.
      `CREATE TABLE datakeep.tx_log (
         global_id text PRIMARY KEY,
         node_id text NOT NULL,
         state text NOT NULL CHECK (state IN ('active', 'last-resource', 'decided', 'finished')),
         decision text CHECK (decision IN ('commit', 'abort')),
         outcome text CHECK (outcome IN ('committed', 'aborted', 'in-doubt', 'heuristic-mixed')),
         participants jsonb NOT NULL,
         timeout_ms integer NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         state_at timestamptz NOT NULL DEFAULT now(),
         finished_at timestamptz
       )`,
      'CREATE INDEX tx_log_open ON datakeep.tx_log (node_id, created_at) WHERE finished_at IS NULL',
    ],
  },
  {
    version: 5,
    name: 'lifecycle work to finish: archived rows not yet deleted, detached partitions not yet dropped',
    statements: [
      // One row per archive a lifecycle run wrote (removed_at set once its rows are deleted), and per partition it
      // detached (removed_at set once dropped). A run that died in between leaves removed_at NULL, and the next run of
      // the policy finishes that work first.
      `CREATE TABLE datakeep.lifecycle_archives (
         archive_id text PRIMARY KEY,
         kind text NOT NULL DEFAULT 'archive' CHECK (kind IN ('archive', 'detached-partition')),
         policy text NOT NULL,
         database text NOT NULL,
         repository text NOT NULL,
         rows bigint NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         removed_at timestamptz,
         removed_rows bigint
       )`,
      'CREATE INDEX lifecycle_archives_pending ON datakeep.lifecycle_archives (policy) WHERE removed_at IS NULL',
    ],
  },
  {
    version: 6,
    name: 'service: API tokens, service jobs, audit outcome',
    statements: [
      // A token is kept only as its SHA-256 hash; the token itself is shown once, when created.
      `CREATE TABLE datakeep.api_tokens (
         id text PRIMARY KEY,
         name text NOT NULL UNIQUE,
         role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
         hash bytea NOT NULL UNIQUE,
         created_at timestamptz NOT NULL DEFAULT now(),
         created_by text NOT NULL,
         revoked_at timestamptz,
         last_used_at timestamptz
       )`,
      // Long operations started through the service (backups, restores, lifecycle runs, failovers): their state and
      // result, so that a restart shows the ones it cut off as interrupted.
      `CREATE TABLE datakeep.service_jobs (
         id text PRIMARY KEY,
         kind text NOT NULL,
         target text,
         actor text NOT NULL,
         instance text NOT NULL,
         status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
         created_at timestamptz NOT NULL DEFAULT now(),
         started_at timestamptz,
         finished_at timestamptz,
         progress jsonb,
         result jsonb,
         error text
       )`,
      'CREATE INDEX service_jobs_created ON datakeep.service_jobs (created_at DESC)',
      `ALTER TABLE datakeep.audit_log ADD COLUMN outcome text NOT NULL DEFAULT 'succeeded'`,
      'CREATE INDEX audit_log_action ON datakeep.audit_log (action, id DESC)',
    ],
  },
];
