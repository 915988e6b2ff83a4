import type { Command } from 'commander';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { integerOption } from './integer-option.js';

/** `datakeep serve`: the long-running service (what `npm start` runs); see docs/service.md. */
export function registerServeCommand(program: Command, runtime: CliRuntime): void {
  program.command('serve')
    .description('run the service: schedules, watchers, the HTTP API and the dashboard, until SIGTERM or Ctrl-C')
    .option('--host <host>', 'the interface to listen on (default: server.host in the config, else 127.0.0.1)')
    .option('--port <port>', 'the TCP port (default: server.port in the config, else 7400; 0 picks a free one)')
    .action(runs(runtime, serveCommand));
}

async function serveCommand(ctx: CommandContext, command: Command): Promise<number> {
  const flags = command.opts<{ host?: string; port?: string }>();
  const port = integerOption('--port', flags.port, 0, 65535);
  const { DatakeepService } = await import('../server/service.js');
  const service = await DatakeepService.start({ configFile: ctx.configFile, host: flags.host, port, print: (line) => ctx.io.out(line) });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  // A second signal while draining means "now": the jobs still running are cut off (they leave nothing visible
  // half-written; the next start records them as interrupted).
  const force = () => process.exit(EXIT.failed);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  ctx.io.err(`datakeep serve: ${signal}: stopping (running jobs get ${service.config.server.shutdownTimeoutMs / 1000} s to finish)`);
  await service.stop();
  // Work cut off by the shutdown (a backup's pg_basebackup, a socket) may keep the event loop alive: once stopped,
  // the process ends even so. The timer is unref'd, so a clean exit does not wait for it.
  setTimeout(() => process.exit(EXIT.ok), 1000).unref();
  return EXIT.ok;
}
