import { DataManager } from '../data-manager.js';
import { checkConfig, loadConfig } from '../config/load-config.js';
import { UsageError } from '../errors/index.js';
import { toJson, type CliIo } from './cli-io.js';
import { EXIT } from './exit-codes.js';
import { formatHealth } from './format-health.js';

export interface CommandContext {
  io: CliIo;
  configFile: string | undefined;
  json: boolean;
  db: string | undefined;
  positionals: string[];
}

/** Runs `fn` with an initialized DataManager from the command's configuration, closing it afterwards. */
export async function withManager<T>(ctx: CommandContext, fn: (dm: DataManager) => Promise<T>): Promise<T> {
  const dm = new DataManager({ configFile: ctx.configFile });
  try {
    await dm.initialize();
    return await fn(dm);
  } finally {
    await dm.close();
  }
}

/** `datakeep health`: exit 0 when every database is healthy or degraded, 1 when one is unhealthy. */
export async function healthCommand(ctx: CommandContext): Promise<number> {
  return withManager(ctx, async (dm) => {
    const statuses = await dm.getHealthStatus();
    if (ctx.json) ctx.io.out(toJson({ databases: [...statuses.values()] }));
    else for (const status of statuses.values()) ctx.io.out(formatHealth(status));
    return [...statuses.values()].some((s) => s.status === 'unhealthy') ? EXIT.failed : EXIT.ok;
  });
}

/** `datakeep start`: the main job. Today: open the configured (or embedded) databases and report their health. */
export async function startCommand(ctx: CommandContext): Promise<number> {
  const config = loadConfig({ file: ctx.configFile });
  if (!ctx.json) {
    ctx.io.out(config.embeddedDefault
      ? `datakeep: no databases configured; using the embedded database in ${config.databases[0]!.dataDir}`
      : `datakeep: ${config.databases.length} database(s) from ${config.source}`);
  }
  return healthCommand(ctx);
}

/** `datakeep query "<sql>" [--db ID]`: prints rows (a table, or JSON with --json). */
export async function queryCommand(ctx: CommandContext): Promise<number> {
  const sql = ctx.positionals[0];
  if (sql === undefined || sql.trim() === '') throw new UsageError('<sql>', 'missing; usage: datakeep query "SELECT ..." [--db ID]');
  if (ctx.positionals.length > 1) throw new UsageError('<sql>', 'give the statement as one quoted argument');
  return withManager(ctx, async (dm) => {
    const result = ctx.db ? await dm.queryDatabase(ctx.db, sql) : await dm.query(sql);
    if (ctx.json || !Array.isArray(result)) ctx.io.out(toJson(result));
    else printTable(ctx.io, result as Record<string, unknown>[]);
    return EXIT.ok;
  });
}

/** `datakeep config check`: validates the configuration without connecting; prints it with secrets hidden. */
export async function configCheckCommand(ctx: CommandContext): Promise<number> {
  const config = checkConfig({ file: ctx.configFile });
  if (ctx.json) {
    ctx.io.out(toJson({ valid: true, source: config.source, databases: config.databases, state: config.state }));
  } else {
    ctx.io.out(`configuration OK (${config.source})`);
    for (const db of config.databases) {
      ctx.io.out(`  ${db.id}: ${db.type} ${db.type === 'pglite' ? db.dataDir : `${db.host}:${db.port}/${db.database}`}${db.ssl ? ' (TLS)' : ''}`);
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
