/** What `datakeep migrate create NAME` writes. */
export function sqlTemplate(name: string): string {
  return `-- migrate:up
-- ${name}: write the change here. Each migration runs in its own transaction; for statements that cannot
-- (CREATE INDEX CONCURRENTLY, VACUUM), change the line above to "-- migrate:up transaction:false".


-- migrate:down
-- Revert the change here; without a down part, rollback stops at this migration.

`;
}

export function moduleTemplate(name: string): string {
  return `// ${name}
// ctx.adapter is the target database (ctx.tx the transaction on SQL databases); see docs/migrations.md.
import type { MigrationContext } from 'datakeep';

export async function up(ctx: MigrationContext): Promise<void> {
  void ctx;
}

export async function down(ctx: MigrationContext): Promise<void> {
  void ctx;
}
`;
}
