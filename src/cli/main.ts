import { parseArgs } from 'node:util';
import { DatakeepError, UsageError } from '../errors/index.js';
import { processIo, toJson, type CliIo } from './cli-io.js';
import { configCheckCommand, healthCommand, queryCommand, startCommand, type CommandContext } from './commands.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

const HELP = `datakeep: keeps an application's data safe across PostgreSQL, MongoDB, Redis and MariaDB

Usage: datakeep <command> [options]

Commands:
  start                 run the main job on the configured databases (embedded PGlite when none)
  health                probe every configured database
  query "<sql>"         run one statement on the default SQL database (or --db ID) and print the rows
  config check          validate the configuration without connecting

Options:
  --config FILE         configuration file (default ./datakeep.config.json, or $DATAKEEP_CONFIG)
  --db ID               the database to address (see "datakeep config check" for ids)
  --json                machine-readable output
  -h, --help            this help

Exit codes: 0 ok; 1 the command failed (unhealthy database, rejected statement); 2 bad usage or configuration;
3 a database could not be reached. Errors are one line on stderr.`;

/** Runs the CLI with `argv` (without node and script) and returns the exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let ctx: CommandContext;
  let command: string[];
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        db: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help || positionals.length === 0 || positionals[0] === 'help') {
      io.out(HELP);
      return positionals.length === 0 && !values.help ? EXIT.usage : EXIT.ok;
    }
    command = positionals;
    ctx = { io, configFile: values.config, json: values.json ?? false, db: values.db, positionals: positionals.slice(1) };
  } catch (error) {
    io.err(`datakeep: ${(error as Error).message} (see datakeep --help)`);
    return EXIT.usage;
  }
  try {
    switch (command[0]) {
      case 'start':
        return await startCommand(ctx);
      case 'health':
        return await healthCommand(ctx);
      case 'query':
        return await queryCommand(ctx);
      case 'config':
        if (command[1] === 'check') return await configCheckCommand({ ...ctx, positionals: ctx.positionals.slice(1) });
        throw new UsageError('config', `unknown subcommand "${command[1] ?? ''}"; use: datakeep config check`);
      default:
        throw new UsageError('<command>', `unknown command "${command[0]}"; run datakeep --help for the list`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (ctx.json && error instanceof DatakeepError) io.out(toJson({ error: error.toJSON() }));
    io.err(`datakeep: ${message.split('\n')[0]}`);
    return exitCodeFor(error);
  }
}
