/** Progress of a migration run, for the CLI's per-migration lines and the service's job view. */
export type MigrationEvent =
  | { type: 'lock-wait'; database: string }
  | { type: 'start'; database: string; version: string; name: string; direction: 'up' | 'down' }
  | { type: 'done'; database: string; version: string; name: string; direction: 'up' | 'down'; durationMs: number }
  | { type: 'failed'; database: string; version: string; name: string; direction: 'up' | 'down'; durationMs: number; error: string };

export type MigrationProgress = (event: MigrationEvent) => void;
