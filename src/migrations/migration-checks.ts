import { systemCheck, type CheckStatus, type SystemCheck } from '../monitoring/system-check.js';
import { analyseMigrations } from './analyse-migrations.js';
import type { MigrationTarget } from './migration-target.js';
import type { ValidationIssue } from './migration-types.js';

/**
 * `migrations:<database>` for each database with migrations: an applied migration whose file changed on disk (an
 * error while validateChecksums is on: migrate refuses to run), or that was interrupted, is an error; an applied
 * migration whose file is gone, or a pending one older than the newest applied (unless allowOutOfOrder), a warning;
 * else how many are applied and pending.
 */
export async function migrationChecks(targets: readonly MigrationTarget[], options: { validateChecksums: boolean; allowOutOfOrder: boolean }): Promise<SystemCheck[]> {
  const checks: SystemCheck[] = [];
  for (const target of targets) {
    const name = `migrations:${target.database}`;
    let analysis: ReturnType<typeof analyseMigrations>;
    try {
      analysis = analyseMigrations(target.database, target.files, await target.history.records());
    } catch (error) {
      checks.push(systemCheck(name, 'error', `cannot read the migration history: ${(error as Error).message}`));
      continue;
    }
    const severity = (issue: ValidationIssue): CheckStatus => {
      if (issue.kind === 'interrupted' || (issue.kind === 'changed' && options.validateChecksums)) return 'error';
      if (issue.kind === 'unknown' && options.allowOutOfOrder) return 'ok';
      return 'warn';
    };
    const worst = analysis.issues.map(severity).reduce<CheckStatus>((a, b) => (a === 'error' || b === 'error' ? 'error' : a === 'warn' || b === 'warn' ? 'warn' : 'ok'), 'ok');
    const figures = `${analysis.appliedCount} applied, ${analysis.pending.length} pending`;
    const problems = analysis.issues.filter((i) => severity(i) !== 'ok').map((i) => i.message);
    const fix = worst === 'error' ? '; put a changed file back as it was applied (make the change in a new migration), finish an interrupted one with datakeep migrate repair' : '';
    checks.push(systemCheck(name, worst, problems.length ? `${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''} (${figures})${fix}` : figures));
  }
  return checks;
}
