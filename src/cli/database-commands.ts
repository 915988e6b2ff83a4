import type { Command } from 'commander';
import type { HealthStatus } from '../adapters/health-status.js';
import { UsageError } from '../errors/index.js';
import { toJson, type CliIo } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { formatHealth } from './format-health.js';
import { reportError } from './report-error.js';
import { loadCliConfig, withManager } from './with-manager.js';

/** `datakeep start`, `health`, `query` and `config check`: the commands about the configured databases themselves. */
export function registerDatabaseCommands(program: Command, runtime: CliRuntime): void {
  program.command('start')
    .description('run the main job on the configured databases (the embedded PGlite database when none is configured)')
    .action(runs(runtime, startCommand));
  program.command('health')
    .description('probe every configured database, each on its own (exit 1 when one is unhealthy, 3 when none can be reached)')
    .action(runs(runtime, healthCommand));
  program.command('query')
    .description('run one statement on the default SQL database (or --db ID) and print the rows')
    .argument('<sql>', 'the statement, as one quoted argument')
    // More than one argument gets its own message: the shell split an unquoted statement.
    .allowExcessArguments()
    .action(runs(runtime, (ctx, command) => queryCommand(ctx, command.args)));
  program.command('config')
    .description('the configuration file')
    .command('check')
    .description('validate the configuration without connecting; print it with secrets hidden')
    .action(runs(runtime, configCheckCommand));
}

/** `datakeep start`: the main job. Today: open the configured (or embedded) databases and report their health. */
async function startCommand(ctx: CommandContext): Promise<number> {
  const config = await loadCliConfig(ctx);
  if (!ctx.json) {
    ctx.io.out(config.embeddedDefault
      ? `datakeep: no databases configured; using the embedded database in ${config.databases[0]!.dataDir}`
      : `datakeep: ${config.databases.length} database(s) from ${config.source}`);
  }
  return withManager(ctx, async (dm) => printHealth(ctx, [...(await dm.getHealthStatus()).values()]));
}

/** One line per database (or `{"databases": [...]}`); exit 1 when one is unhealthy. */
function printHealth(ctx: CommandContext, statuses: readonly HealthStatus[]): number {
  if (ctx.json) ctx.io.out(toJson({ databases: statuses }));
  else for (const status of statuses) ctx.io.out(formatHealth(status));
  return statuses.some((s) => s.status === 'unhealthy') ? EXIT.failed : EXIT.ok;
}

/**
 * `datakeep health`: every database is opened and probed on its own, so one that cannot be reached is reported
 * unhealthy beside the others (exit 1). Exit 0 when all are healthy or degraded; when none could be opened, the
 * exit code of the first one's error (3 unreachable, 2 credentials refused).
 */
async function healthCommand(ctx: CommandContext): Promise<number> {
  const config = await loadCliConfig(ctx);
  const [{ probeDatabases }, { createStderrLogger, redactingLogger }] = await Promise.all([import('../monitoring/probe-databases.js'), import('../util/logger.js')]);
  const probes = await probeDatabases(config.databases, redactingLogger(createStderrLogger(config.logLevel)));
  const statuses = probes.map((p) => p.status);
  const failures = probes.flatMap((p) => (p.openError ? [p.openError] : []));
  if (failures.length === probes.length && failures[0]) {
    if (!ctx.json) for (const status of statuses) ctx.io.out(formatHealth(status));
    reportError(ctx.io, failures[0], ctx.json, { databases: statuses });
    return exitCodeFor(failures[0]);
  }
  return printHealth(ctx, statuses);
}

/** `datakeep query "<sql>" [--db ID]`: prints rows (a table, or JSON with --json). */
async function queryCommand(ctx: CommandContext, args: readonly string[]): Promise<number> {
  const sql = args[0];
  if (sql === undefined || sql.trim() === '') throw new UsageError('<sql>', 'missing; usage: datakeep query "SELECT ..." [--db ID]');
  if (args.length > 1) throw new UsageError('<sql>', 'give the statement as one quoted argument');
  return withManager(ctx, async (dm) => {
    const result = ctx.db ? await dm.queryDatabase(ctx.db, sql) : await dm.query(sql);
    if (ctx.json || !Array.isArray(result)) ctx.io.out(toJson(result));
    else printTable(ctx.io, result as Record<string, unknown>[]);
    return EXIT.ok;
  });
}

/** `datakeep config check`: validates the configuration without connecting; prints it with secrets hidden. */
async function configCheckCommand(ctx: CommandContext): Promise<number> {
  // Everything initialize() checks, and the sections checked later by their subsystems, without connecting.
  const { checkConfig } = await import('../config/load-config.js');
  const { getEngine } = await import('../engines/engine-registry.js');
  const config = checkConfig({ file: ctx.configFile });
  if (ctx.json) {
    ctx.io.out(toJson({ valid: true, source: config.source, databases: config.databases, state: config.state }));
  } else {
    ctx.io.out(`configuration OK (${config.source})`);
    for (const db of config.databases) {
      ctx.io.out(`  ${db.id}: ${db.type} ${getEngine(db.type).networked ? `${db.host}:${db.port}/${db.database}` : db.dataDir}${db.ssl ? ' (TLS)' : ''}`);
    }
    ctx.io.out(`  state store: ${config.state.url ? 'PostgreSQL (state.url)' : config.state.dir}`);
  }
  return EXIT.ok;
}

function printTable(io: CliIo, rows: Record<string, unknown>[]): void {
  if (rows.length === 0) {
    io.out('(0 rows)');
    return;
  }
  const columns = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (values: string[]) => values.map((v, i) => v.slice(0, 60).padEnd(widths[i]!)).join(' | ').trimEnd();
  io.out(line(columns));
  io.out(widths.map((w) => '-'.repeat(w)).join('-+-'));
  for (const row of rows) io.out(line(columns.map((c) => cell(row[c]))));
  io.out(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
}
