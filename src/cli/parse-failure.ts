import type { Command, CommanderError } from 'commander';
import { UsageError } from '../errors/index.js';
import type { CliIo } from './cli-io.js';
import { EXIT } from './exit-codes.js';

/**
 * Ends a run without running a command: help or the version was shown (`usage` undefined), or the parser rejected
 * the command line (`usage` says what and names the command). Thrown in place of commander's process.exit.
 */
export class ParseStop extends Error {
  constructor(
    readonly exitCode: number,
    readonly usage?: UsageError,
  ) {
    super(usage?.message ?? 'help shown');
    this.name = 'ParseStop';
  }
}

const usageExitCodes = new WeakMap<Command, number>();

/** The exit code when the parser rejects this command's arguments (default 2): `wal get` exits 255 for PostgreSQL. */
export function setUsageExitCode(command: Command, code: number): void {
  usageExitCodes.set(command, code);
}

/** "migrate down" for `datakeep migrate down`; "" for the program. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Makes every command of the tree write through `io` and, instead of exiting the process, throw a ParseStop: runCli
 * returns its code and reports its UsageError like any other error (on stderr, and as JSON with --json).
 */
export function handleParseFailures(program: Command, io: CliIo): void {
  // Commander prints help to stderr only when it shows it for a usage error (a group given no subcommand); its
  // exit code for help would come from process.exitCode, which is not this run's.
  let helpForError = false;
  const visit = (command: Command) => {
    command.configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      writeErr: (text) => {
        helpForError = true;
        io.err(text.replace(/\n$/, ''));
      },
      // The error is reported once, by runCli, in the CLI's own format.
      outputError: () => undefined,
    });
    command.exitOverride((error) => {
      throw toParseStop(command, error, helpForError);
    });
    for (const sub of command.commands) visit(sub);
  };
  visit(program);
}

function toParseStop(command: Command, error: CommanderError, helpForError: boolean): ParseStop {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return new ParseStop(EXIT.ok);
  const code = usageExitCodes.get(command) ?? EXIT.usage;
  const path = commandPath(command);
  const help = `see datakeep ${path ? `${path} ` : ''}--help`;
  if (error.code === 'commander.help') {
    // `datakeep help` exits 0; help shown because a command group was given no subcommand is a usage error.
    if (!helpForError) return new ParseStop(EXIT.ok);
    return new ParseStop(code, new UsageError(path || '<command>', `no ${path ? 'subcommand' : 'command'} given; ${help}`));
  }
  const problem = error.code === 'commander.unknownCommand'
    ? `unknown ${path ? 'subcommand' : 'command'} "${command.args[0] ?? ''}"${/ \(Did you mean .*\?\)/.exec(error.message)?.[0] ?? ''}`
    : error.message.replace(/^error: /, '').replace(/\.$/, '');
  return new ParseStop(code, new UsageError(path || '<command>', `${problem}; ${help}`, { cause: error }));
}
