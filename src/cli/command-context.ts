import type { Command } from 'commander';
import type { CliIo } from './cli-io.js';

/** What one run of the CLI shares between its commands: where output goes, the environment, the exit code. */
export interface CliRuntime {
  readonly io: CliIo;
  readonly env: NodeJS.ProcessEnv;
  exitCode: number;
}

/** The global options (`datakeep --config F --db ID --json <command>`), as every command's action receives them. */
export interface CommandContext {
  readonly io: CliIo;
  readonly env: NodeJS.ProcessEnv;
  readonly configFile: string | undefined;
  readonly json: boolean;
  readonly db: string | undefined;
}

interface GlobalOptions {
  config?: string;
  db?: string;
  json?: boolean;
}

/**
 * The action of a command: `fn` gets the context and the command (its `args` and `opts()`), and returns the exit code.
 * Commander ignores what an action returns, so the code is kept in the runtime for runCli to return.
 */
export function runs(runtime: CliRuntime, fn: (ctx: CommandContext, command: Command) => Promise<number>): (...params: unknown[]) => Promise<void> {
  return async (...params) => {
    const command = params[params.length - 1] as Command;
    const globals = command.optsWithGlobals<GlobalOptions>();
    const ctx = { io: runtime.io, env: runtime.env, configFile: globals.config, json: globals.json ?? false, db: globals.db };
    runtime.exitCode = await fn(ctx, command);
  };
}
