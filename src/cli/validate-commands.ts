import type { Command } from 'commander';
import type { SystemValidation } from '../monitoring/system-validation.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { loadCliConfig, withRepositoryOnly } from './with-manager.js';

/** `datakeep validate`: every check of validateSystem(), one line each. */
export function registerValidateCommands(program: Command, runtime: CliRuntime): void {
  program.command('validate')
    .description('check the whole system: config, connectivity, state store, migrations, backups, WAL archive, drills, transactions, lifecycle, replication (exit 1 on an error)')
    .action(runs(runtime, validateCommand));
}

/**
 * Runs validateSystem() and prints each check (`--json`: the whole result). When a database cannot be opened, the
 * others cannot be checked through a DataManager (it opens all or none): each database is then probed on its own and
 * the unreachable ones reported as connectivity errors.
 */
async function validateCommand(ctx: CommandContext): Promise<number> {
  const config = await loadCliConfig(ctx);
  const validation = await withRepositoryOnly(ctx, async (dm) => {
    try {
      await dm.initialize();
    } catch {
      return connectivityOnly(config);
    }
    return dm.validateSystem();
  });
  if (ctx.json) {
    ctx.io.out(toJson(validation));
  } else {
    const width = Math.max(...validation.checks.map((c) => c.name.length));
    for (const c of validation.checks) ctx.io.out(`${c.status.padEnd(7)} ${c.name.padEnd(width)}  ${c.detail}`);
    const count = (s: string) => validation.checks.filter((c) => c.status === s).length;
    ctx.io.out(`${validation.valid ? 'valid' : 'INVALID'}: ${validation.checks.length} checks, ${count('error')} error(s), ${count('warn')} warning(s), ${count('skipped')} skipped`);
  }
  return validation.valid ? EXIT.ok : EXIT.failed;
}

async function connectivityOnly(config: Awaited<ReturnType<typeof loadCliConfig>>): Promise<SystemValidation> {
  const [{ probeDatabases }, { connectivityChecks }, { systemCheck }, { systemValidation }, { createStderrLogger, redactingLogger }] = await Promise.all([
    import('../monitoring/probe-databases.js'), import('../monitoring/core-checks.js'), import('../monitoring/system-check.js'), import('../monitoring/system-validation.js'), import('../util/logger.js'),
  ]);
  const probes = await probeDatabases(config.databases, redactingLogger(createStderrLogger(config.logLevel)));
  return systemValidation([
    systemCheck('config', 'ok', `${config.databases.length} database(s) from ${config.source}`),
    ...connectivityChecks(probes.map((p) => p.status)),
    systemCheck('system', 'skipped', 'the other checks need every database open; fix connectivity first'),
  ]);
}
