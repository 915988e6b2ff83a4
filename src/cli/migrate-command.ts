import { existsSync, mkdirSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { loadConfig } from '../config/load-config.js';
import { DataManager } from '../data-manager.js';
import { UsageError } from '../errors/index.js';
import type { MigrationEvent } from '../migrations/migration-events.js';
import type { MigrationsConfig } from '../migrations/migration-types.js';
import { toJson } from './cli-io.js';
import type { CommandContext } from './commands.js';
import { EXIT } from './exit-codes.js';

export interface MigrateFlags {
  to?: string;
  dir?: string;
  dryRun: boolean;
  allowOutOfOrder: boolean;
  applied: boolean;
  rolledBack: boolean;
  format?: string;
  release: boolean;
}

const USAGE = 'usage: datakeep migrate up|down --to VERSION|status|plan|validate|create NAME|baseline VERSION|repair VERSION --applied|--rolled-back|locks [--release] [--db ID] [--dir DIR]';

/** `datakeep migrate ...`: a thin layer over dm.migrations, with one progress line per migration. */
export async function migrateCommand(ctx: CommandContext, flags: MigrateFlags): Promise<number> {
  const [sub, arg, ...extra] = ctx.positionals;
  if (!sub) throw new UsageError('migrate', `missing subcommand; ${USAGE}`);
  if (extra.length) throw new UsageError('migrate', `unexpected argument "${extra[0]}"; ${USAGE}`);
  const dm = new DataManager({ configFile: ctx.configFile });
  try {
    await dm.initialize();
    const base = (await configSection(ctx)) ?? {};
    const directory = flags.dir ?? base.directory ?? './migrations';
    if (sub === 'create' && !existsSync(resolvePath(directory))) mkdirSync(resolvePath(directory), { recursive: true });
    await dm.initializeMigrations({ ...base, directory, ...(flags.allowOutOfOrder ? { allowOutOfOrder: true } : {}) });
    const m = dm.migrations;
    const db = ctx.db;
    const progress = (event: MigrationEvent) => {
      if (ctx.json) return;
      if (event.type === 'start') ctx.io.out(`  ${event.direction === 'up' ? '->' : '<-'} ${event.database} ${event.version}_${event.name} ...`);
      else if (event.type === 'done') ctx.io.out(`  ok ${event.database} ${event.version}_${event.name} (${event.durationMs} ms)`);
      else if (event.type === 'failed') ctx.io.out(`  FAILED ${event.database} ${event.version}_${event.name} after ${event.durationMs} ms`);
    };
    switch (sub) {
      case 'up': {
        if (flags.dryRun) return printPlan(ctx, await m.plan({ db }));
        const started = performance.now();
        const result = await m.migrate({ db, onProgress: progress, allowOutOfOrder: flags.allowOutOfOrder || undefined });
        if (ctx.json) ctx.io.out(toJson(result));
        else {
          for (const w of result.warnings) ctx.io.out(`  warning: ${w}`);
          ctx.io.out(`applied ${result.migrationsExecuted.length} migration(s) in ${Math.round(performance.now() - started)} ms`);
        }
        return EXIT.ok;
      }
      case 'down': {
        if (!flags.to) throw new UsageError('--to', 'migrate down needs --to VERSION (the version that stays applied; 0 reverts everything)');
        if (flags.dryRun) return printPlan(ctx, await m.plan({ db, to: flags.to }));
        const result = await m.rollback(flags.to, { db, onProgress: progress });
        if (ctx.json) ctx.io.out(toJson(result));
        else ctx.io.out(`rolled back ${result.migrationsRolledBack.length} migration(s); ${flags.to} is now the newest applied`);
        return EXIT.ok;
      }
      case 'status': {
        const status = await m.status({ db });
        if (ctx.json) ctx.io.out(toJson(status));
        else {
          for (const s of status) ctx.io.out(`${s.database}  ${s.version.padEnd(16)} ${s.state.padEnd(12)}${s.changed ? ' CHANGED' : '        '} ${s.name}${s.appliedAt ? `  ${s.appliedAt.toISOString()}` : ''}`);
          ctx.io.out(`${status.filter((s) => s.state === 'pending').length} pending of ${status.length}`);
        }
        return EXIT.ok;
      }
      case 'plan':
        return printPlan(ctx, await m.plan({ db, to: flags.to }));
      case 'validate': {
        const report = await m.validate({ db });
        if (ctx.json) ctx.io.out(toJson(report));
        else {
          for (const issue of report.issues) ctx.io.out(`  ${issue.kind}: ${issue.message}`);
          ctx.io.out(report.valid ? `valid: ${report.checked} migration file(s) checked` : `INVALID: ${report.issues.length} issue(s)`);
        }
        return report.valid ? EXIT.ok : EXIT.failed;
      }
      case 'create': {
        if (!arg) throw new UsageError('NAME', 'migrate create needs a name, e.g. datakeep migrate create add_orders');
        if (flags.format !== undefined && flags.format !== 'sql' && flags.format !== 'ts') throw new UsageError('--format', 'use sql or ts');
        const path = await m.create(arg, { db, format: flags.format as 'sql' | 'ts' | undefined });
        ctx.io.out(ctx.json ? toJson({ path }) : `created ${path}`);
        return EXIT.ok;
      }
      case 'baseline': {
        if (!arg) throw new UsageError('VERSION', 'migrate baseline needs a version');
        const out = await m.baseline(arg, { db, dryRun: flags.dryRun });
        ctx.io.out(ctx.json ? toJson(out) : out.map((o) => `${o.dryRun ? 'would baseline' : 'baselined'} ${o.database} at ${o.version}`).join('\n'));
        return EXIT.ok;
      }
      case 'repair': {
        if (!arg) throw new UsageError('VERSION', 'migrate repair needs a version and --applied or --rolled-back');
        if (flags.applied === flags.rolledBack) throw new UsageError('--applied/--rolled-back', 'give exactly one: --applied (its effects are in place) or --rolled-back (they are not)');
        const out = await m.repair(arg, { as: flags.applied ? 'applied' : 'rolled_back', db, dryRun: flags.dryRun });
        ctx.io.out(ctx.json ? toJson(out) : out.map((o) => `${o.dryRun ? 'would mark' : 'marked'} ${o.database} ${o.version} ${o.to} (was ${o.from})`).join('\n'));
        return EXIT.ok;
      }
      case 'locks': {
        const out = flags.release ? await m.releaseLock({ db, dryRun: flags.dryRun }) : await m.locks({ db });
        if (ctx.json) ctx.io.out(toJson(out));
        else for (const l of out) {
          const holder = 'holder' in l ? l.holder : l.removed;
          ctx.io.out(`${l.database}: ${l.kind}: ${holder ? `${flags.release && !('holder' in l) ? 'removed ' : 'held by '}${holder.description}${holder.since ? ` since ${holder.since.toISOString()}` : ''}` : 'free'}`);
        }
        return EXIT.ok;
      }
      default:
        throw new UsageError('migrate', `unknown subcommand "${sub}"; ${USAGE}`);
    }
  } finally {
    await dm.close();
  }
}

async function configSection(ctx: CommandContext): Promise<Readonly<Partial<MigrationsConfig>> | undefined> {
  return loadConfig({ file: ctx.configFile }).migrations;
}

function printPlan(ctx: CommandContext, plan: Awaited<ReturnType<DataManager['migrations']['plan']>>): number {
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
