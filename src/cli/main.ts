import { Command, Help } from 'commander';
import { DATAKEEP_VERSION } from '../util/datakeep-version.js';
import { processIo, type CliIo } from './cli-io.js';
import type { CliRuntime } from './command-context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { handleParseFailures, ParseStop } from './parse-failure.js';
import { reportError } from './report-error.js';

type Register = (program: Command, runtime: CliRuntime) => void;

const walGroup = async (): Promise<Register> => (await import('./wal-commands.js')).registerWalCommands;

/** The command groups, in the order of the help; each file registers its commands, options, arguments and help. */
const GROUPS: readonly (() => Promise<Register>)[] = [
  async () => (await import('./database-commands.js')).registerDatabaseCommands,
  async () => (await import('./migrate-commands.js')).registerMigrateCommands,
  async () => (await import('./backup-commands.js')).registerBackupCommands,
  walGroup,
  async () => (await import('./tx-commands.js')).registerTxCommands,
  async () => (await import('./lifecycle-commands.js')).registerLifecycleCommands,
  async () => (await import('./replication-commands.js')).registerReplicationCommands,
  async () => (await import('./validate-commands.js')).registerValidateCommands,
  async () => (await import('./serve-command.js')).registerServeCommand,
  async () => (await import('./state-commands.js')).registerStateCommands,
];
/** PostgreSQL runs `datakeep wal push|get` once per WAL segment: that command line loads its own group only. */
const WAL_ONLY = [walGroup];

const EXIT_CODES = `
Exit codes: 0 ok; 1 the command ran and found a failure (an unhealthy database, a
rejected statement, a failed check); 2 bad usage or configuration, credentials the
server refused included (nothing was attempted); 3 no database could be reached.
\`wal\` exits as PostgreSQL expects (see datakeep wal --help). Errors go to stderr
("datakeep: <reason>"), and with --json also to stdout as {"error": {...}}.
Every command: datakeep <command> --help. Reference: docs/cli.md.`;

/**
 * In the list of commands, a group with one subcommand reads as that command ("config check"); a larger one names
 * its subcommands in its description, so that the top-level help shows every command.
 */
const help = new Help();
const subcommandTerm = (c: Command): string => (c.commands.length === 1 ? `${c.name()} ${help.subcommandTerm(c.commands[0]!)}` : c.commands.length ? `${c.name()} <command>` : help.subcommandTerm(c));
const subcommandDescription = (c: Command): string => (c.commands.length === 1 ? c.commands[0]!.description() : c.commands.length ? `${c.description()}: ${c.commands.map((s) => s.name()).join(', ')}` : c.description());

/** The command line: the program, its global options and help, and the command groups (`groups`, default all). */
export async function buildProgram(runtime: CliRuntime, groups = GROUPS): Promise<Command> {
  const program = new Command('datakeep')
    .description("keeps an application's data safe across PostgreSQL, MongoDB, Redis and MariaDB")
    .version(DATAKEEP_VERSION, '-V, --version', 'print the version of datakeep')
    .option('--config <file>', 'configuration file (default: $DATAKEEP_CONFIG, else ./datakeep.config.json)')
    .option('--db <id>', 'the database to address (see "datakeep config check" for ids)')
    .option('--json', 'machine-readable output on stdout')
    .helpOption('-h, --help', 'show the help of a command')
    .configureHelp({ showGlobalOptions: true, subcommandTerm, subcommandDescription })
    .addHelpText('after', EXIT_CODES);
  for (const register of await Promise.all(groups.map((load) => load()))) register(program, runtime);
  handleParseFailures(program, runtime.io);
  return program;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. Never calls process.exit. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  return runProgram(argv, { io, env: process.env, exitCode: EXIT.ok });
}

/** runCli with the environment given (runWalCommand's seam). */
export async function runProgram(argv: readonly string[], runtime: CliRuntime): Promise<number> {
  const program = await buildProgram(runtime, argv[0] === 'wal' ? WAL_ONLY : GROUPS);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return runtime.exitCode;
  } catch (error) {
    // The global options are parsed before any command runs, wherever they stand; a parse error may come first.
    const end = argv.indexOf('--');
    const json = program.opts<{ json?: boolean }>().json ?? (end < 0 ? argv : argv.slice(0, end)).includes('--json');
    if (error instanceof ParseStop) {
      if (error.usage) reportError(runtime.io, error.usage, json);
      return error.exitCode;
    }
    reportError(runtime.io, error, json);
    return exitCodeFor(error);
  }
}
