import type { Command } from 'commander';
import type { LogCaptureState } from '../backup/log-captures.js';
import { toJson } from './cli-io.js';
import { backupSettings, repositoryOptions, type RepositoryFlags } from './backup-settings.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { integerOption } from './integer-option.js';
import { withManager } from './with-manager.js';

interface CaptureFlags extends RepositoryFlags {
  database?: string;
  interval?: string;
}

/** Progress lines at most this often per database (a change of status, a note or an error is printed at once). */
const LINE_EVERY_MS = 5000;

/**
 * `datakeep backup capture`: the continuous log capture that `datakeep serve` runs, in the foreground, for one
 * database or every one whose engine has it; progress on stderr; Ctrl-C (or SIGTERM) stores what arrived, then exits.
 */
export function registerCaptureCommand(backup: Command, runtime: CliRuntime): void {
  repositoryOptions(backup.command('capture').description('capture the log of Redis, MongoDB and MariaDB databases into their repositories continuously, for point-in-time restores, until Ctrl-C (as datakeep serve does)'))
    .argument('[db]', 'one database id (default: every backed-up one whose engine captures its log)')
    .option('--database <id>', 'the database to capture (as the DB argument)')
    .option('--interval <seconds>', 'store what arrived at least this often (default: backups.logCapture.intervalSeconds, else the engine\'s: Redis 1, MongoDB and MariaDB 10)')
    .action(runs(runtime, async (ctx, c) => capture(ctx, c.opts<CaptureFlags>(), c.args[0])));
}

async function capture(ctx: CommandContext, flags: CaptureFlags, arg: string | undefined): Promise<number> {
  const seconds = integerOption('--interval', flags.interval, 1, 3600);
  const config = await backupSettings(ctx, flags, false);
  return withManager(ctx, async (dm) => {
    const one = arg ?? flags.database ?? ctx.db;
    const { capturable, skipped } = await dm.backups.captures.targets(one === undefined ? undefined : [one]);
    for (const s of skipped) ctx.io.err(`${s.database}: no log capture: ${s.reason}`);
    if (capturable.length === 0) {
      ctx.io.err('no database to capture');
      return EXIT.failed;
    }
    const controller = new AbortController();
    let stoppedAt = Infinity;
    const stop = () => {
      if (!controller.signal.aborted) ctx.io.err('stopping: storing what arrived...');
      stoppedAt = Math.min(stoppedAt, Date.now());
      controller.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    ctx.io.err(`capturing ${capturable.map((c) => c.database).join(', ')} into ${config.destination}; stop with Ctrl-C`);
    try {
      const finals = await Promise.all(capturable.map(({ database }) => {
        let shown: { at: number; status: string; note: string | undefined; error: string | undefined } | undefined;
        return dm.backups.captures.run(database, {
          destination: config.destination, passphraseFile: flags.passphraseFile ?? config.passphraseFile, intervalMs: seconds === undefined ? undefined : seconds * 1000,
          signal: controller.signal,
          onState: (s) => {
            const changed = !shown || shown.status !== s.status || shown.note !== s.note || shown.error !== s.lastError?.at;
            // Standing by changes nothing worth a line until it takes over.
            if (!changed && (s.status === 'standby' || Date.now() - shown!.at < LINE_EVERY_MS)) return;
            shown = { at: Date.now(), status: s.status, note: s.note, error: s.lastError?.at };
            ctx.io.err(describe(s, changed));
          },
        });
      }));
      if (ctx.json) ctx.io.out(toJson(finals));
      else for (const s of finals) ctx.io.out(`${s.database}: stopped; ${s.stored} piece(s) stored${s.position ? `, up to ${s.position}` : ''}${s.coveredUntil ? `, writes covered until ${s.coveredUntil}` : ''}; ${s.restarts} restart(s)${s.lastError ? `; last error: ${s.lastError.message}` : ''}`);
      // A stop that failed to store what arrived exits 1.
      return finals.some((s) => s.lastError && Date.parse(s.lastError.at) >= stoppedAt) ? EXIT.failed : EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

function describe(s: LogCaptureState, changed: boolean): string {
  const time = new Date().toISOString().slice(11, 19);
  if (s.status === 'standby') return `${time} ${s.database}: standby: ${s.note ?? 'another process captures it'}`;
  if (s.status === 'retrying') return `${time} ${s.database}: failed: ${s.lastError?.message ?? 'unknown error'}; starting again at ${s.nextAttemptAt?.slice(11, 19)}`;
  const where = s.position === undefined ? 'connecting' : `${s.stored} piece(s) stored, at ${s.position}, covered until ${s.coveredUntil?.slice(11, 19)} (lag ${s.lagSeconds?.toFixed(1)} s)`;
  return `${time} ${s.database}: ${s.status}: ${where}${changed && s.note ? `; ${s.note}` : ''}`;
}
