import { existsSync, mkdirSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { MigrationManager } from '../migrations/migration-manager.js';
import type { MigrationEvent } from '../migrations/migration-events.js';
import type { PlannedMigration } from '../migrations/migration-types.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { loadCliConfig, withManager } from './with-manager.js';

interface MigrateOptions {
  dir?: string;
  to?: string;
  dryRun?: boolean;
  allowOutOfOrder?: boolean;
  format?: 'sql' | 'ts';
  applied?: boolean;
  rolledBack?: boolean;
  release?: boolean;
}

type MigrateAction = (m: MigrationManager, ctx: CommandContext, options: MigrateOptions, args: readonly string[]) => Promise<number>;

/** `--to VERSION`: a version is digits (0 reverts everything); anything else is refused before a database is opened. */
function parseVersion(text: string): string {
  if (!/^\d+$/.test(text)) throw new UsageError('--to', `"${text}" is not a migration version; give its digits, e.g. 20240101000000 (the version that stays applied), or 0 for none`);
  return text;
}

/** `datakeep migrate ...`: a thin layer over dm.migrations, with one progress line per migration. */
export function registerMigrateCommands(program: Command, runtime: CliRuntime): void {
  const migrate = program.command('migrate').description('schema migrations (docs/migrations.md)');
  const sub = (name: string, description: string, action: MigrateAction): Command => {
    const command = migrate.command(name).description(description)
      .option('--dir <dir>', 'migrations directory (default: "migrations.directory" in the config, else ./migrations)');
    command.action(runs(runtime, (ctx, c) => withMigrations(ctx, c.opts<MigrateOptions>(), name === 'create', (m) => action(m, ctx, c.opts<MigrateOptions>(), c.args))));
    return command;
  };
  const dryRun = ['--dry-run', 'say what would happen; change nothing'] as const;
  const outOfOrder = ['--allow-out-of-order', 'apply pending migrations older than the newest applied one'] as const;

  sub('up', 'apply pending migrations, one progress line each (--dry-run prints their SQL and warnings)', up).option(...dryRun).option(...outOfOrder);
  sub('down', 'revert every applied migration newer than --to, newest first', down)
    .option('--to <version>', 'the version that stays applied (0 reverts everything)', parseVersion).option(...dryRun);
  sub('status', 'where each database stands, one row per migration in version order', status);
  sub('plan', 'what would run (SQL and warnings), up to the pending ones or down to --to', async (m, ctx, o) => printPlan(ctx, await m.plan({ db: ctx.db, to: o.to })))
    .option('--to <version>', 'plan the rollback to this version instead', parseVersion).option(...outOfOrder);
  sub('validate', 'check checksums, order and interrupted runs (exit 1 when invalid)', validate);
  sub('create', 'write a timestamped migration file', create).argument('<name>', 'what it does, e.g. add_orders')
    .addOption(new Option('--format <format>', 'file format (default: sql for SQL databases, ts otherwise)').choices(['sql', 'ts']));
  sub('baseline', 'mark an existing database as migrated up to VERSION', async (m, ctx, o, [version]) => {
    const out = await m.baseline(version!, { db: ctx.db, dryRun: o.dryRun });
    ctx.io.out(ctx.json ? toJson(out) : out.map((b) => `${b.dryRun ? 'would baseline' : 'baselined'} ${b.database} at ${b.version}`).join('\n'));
    return EXIT.ok;
  }).argument('<version>', 'the newest version already in place').option(...dryRun);
  sub('repair', 'resolve a failed or interrupted migration: its effects are in place (--applied) or not (--rolled-back); audited', repair)
    .argument('<version>', 'the migration to mark').option('--applied', 'its effects are in place').option('--rolled-back', 'its effects are not in place').option(...dryRun);
  sub('locks', "show each database's migration lock (--release removes a stale lease; --dry-run shows what it would remove)", locks)
    .option('--release', 'remove a stale lease lock').option(...dryRun);
}

/** Initializes the DataManager and its migrations from the config file's "migrations" section and the flags. */
async function withMigrations(ctx: CommandContext, options: MigrateOptions, creating: boolean, fn: (m: MigrationManager) => Promise<number>): Promise<number> {
  return withManager(ctx, async (dm) => {
    const base = (await loadCliConfig(ctx)).migrations ?? {};
    const directory = options.dir ?? base.directory ?? './migrations';
    if (creating && !existsSync(resolvePath(directory))) mkdirSync(resolvePath(directory), { recursive: true });
    await dm.initializeMigrations({ ...base, directory, ...(options.allowOutOfOrder ? { allowOutOfOrder: true } : {}) });
    return fn(dm.migrations);
  });
}

function progressLine(ctx: CommandContext): (event: MigrationEvent) => void {
  return (event) => {
    if (ctx.json) return;
    switch (event.type) {
      case 'start':
        ctx.io.out(`  ${event.direction === 'up' ? '->' : '<-'} ${event.database} ${event.version}_${event.name} ...`);
        break;
      case 'done':
        ctx.io.out(`  ok ${event.database} ${event.version}_${event.name} (${event.durationMs} ms)`);
        break;
      case 'failed':
        ctx.io.out(`  FAILED ${event.database} ${event.version}_${event.name} after ${event.durationMs} ms`);
        break;
      default:
        break;
    }
  };
}

const up: MigrateAction = async (m, ctx, o) => {
  if (o.dryRun) return printPlan(ctx, await m.plan({ db: ctx.db }));
  const started = performance.now();
  const result = await m.migrate({ db: ctx.db, onProgress: progressLine(ctx), allowOutOfOrder: o.allowOutOfOrder || undefined });
  if (ctx.json) ctx.io.out(toJson(result));
  else {
    for (const w of result.warnings) ctx.io.out(`  warning: ${w}`);
    ctx.io.out(`applied ${result.migrationsExecuted.length} migration(s) in ${Math.round(performance.now() - started)} ms`);
  }
  return EXIT.ok;
};

const down: MigrateAction = async (m, ctx, o) => {
  if (!o.to) throw new UsageError('--to', 'migrate down needs --to VERSION (the version that stays applied; 0 reverts everything)');
  if (o.dryRun) return printPlan(ctx, await m.plan({ db: ctx.db, to: o.to }));
  const result = await m.rollback(o.to, { db: ctx.db, onProgress: progressLine(ctx) });
  if (ctx.json) ctx.io.out(toJson(result));
  else ctx.io.out(`rolled back ${result.migrationsRolledBack.length} migration(s); ${o.to} is now the newest applied`);
  return EXIT.ok;
};

const status: MigrateAction = async (m, ctx) => {
  const entries = await m.status({ db: ctx.db });
  if (ctx.json) ctx.io.out(toJson(entries));
  else {
    for (const s of entries) ctx.io.out(`${s.database}  ${s.version.padEnd(16)} ${s.state.padEnd(12)}${s.changed ? ' CHANGED' : '        '} ${s.name}${s.appliedAt ? `  ${s.appliedAt.toISOString()}` : ''}`);
    ctx.io.out(`${entries.filter((s) => s.pending).length} pending of ${entries.length}`);
  }
  return EXIT.ok;
};

const validate: MigrateAction = async (m, ctx) => {
  const report = await m.validate({ db: ctx.db });
  if (ctx.json) ctx.io.out(toJson(report));
  else {
    for (const issue of report.issues) ctx.io.out(`  ${issue.kind}: ${issue.message}`);
    ctx.io.out(report.valid ? `valid: ${report.checked} migration file(s) checked` : `INVALID: ${report.issues.length} issue(s)`);
  }
  return report.valid ? EXIT.ok : EXIT.failed;
};

const create: MigrateAction = async (m, ctx, o, [name]) => {
  const path = await m.create(name!, { db: ctx.db, format: o.format });
  ctx.io.out(ctx.json ? toJson({ path }) : `created ${path}`);
  return EXIT.ok;
};

const repair: MigrateAction = async (m, ctx, o, [version]) => {
  if (Boolean(o.applied) === Boolean(o.rolledBack)) throw new UsageError('--applied/--rolled-back', 'give exactly one: --applied (its effects are in place) or --rolled-back (they are not)');
  const out = await m.repair(version!, { as: o.applied ? 'applied' : 'rolled_back', db: ctx.db, dryRun: o.dryRun });
  ctx.io.out(ctx.json ? toJson(out) : out.map((r) => `${r.dryRun ? 'would mark' : 'marked'} ${r.database} ${r.version} ${r.to} (was ${r.from})`).join('\n'));
  return EXIT.ok;
};

const locks: MigrateAction = async (m, ctx, o) => {
  const out = o.release ? await m.releaseLock({ db: ctx.db, dryRun: o.dryRun }) : await m.locks({ db: ctx.db });
  if (ctx.json) ctx.io.out(toJson(out));
  else for (const l of out) {
    const holder = 'holder' in l ? l.holder : l.removed;
    ctx.io.out(`${l.database}: ${l.kind}: ${holder ? `${o.release && !('holder' in l) ? 'removed ' : 'held by '}${holder.description}${holder.since ? ` since ${holder.since.toISOString()}` : ''}` : 'free'}`);
  }
  return EXIT.ok;
};

function printPlan(ctx: CommandContext, plan: readonly PlannedMigration[]): number {
  if (ctx.json) {
    ctx.io.out(toJson(plan));
    return EXIT.ok;
  }
  if (plan.length === 0) ctx.io.out('nothing to run');
  for (const p of plan) {
    ctx.io.out(`-- ${p.database} ${p.direction} ${p.version}_${p.name} (${p.kind}${p.transaction ? '' : ', no transaction'})`);
    for (const w of p.warnings) ctx.io.out(`-- warning: ${w}`);
    ctx.io.out(p.sql ?? '-- (module: runs its exported function)');
    ctx.io.out('');
  }
  return EXIT.ok;
}
