import type { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { LifecyclePlanEntry, LifecycleRunResult } from '../lifecycle/lifecycle-types.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { formatRows, ProgressLine } from './progress-line.js';
import { withManager } from './with-manager.js';

interface ArchiveFlags {
  dest?: string;
  passphraseFile?: string;
  database?: string;
}

/**
 * `datakeep lifecycle plan|run|history` over the config file's "lifecycle" section, and `datakeep archive
 * list|show|restore` over the archives its policies wrote (docs/lifecycle.md). Thin layers over dm.lifecycle.
 */
export function registerLifecycleCommands(program: Command, runtime: CliRuntime): void {
  const lifecycle = program.command('lifecycle').description('data lifecycle: retention, archival, cleanup (docs/lifecycle.md)');
  lifecycle.command('plan')
    .description('what each policy would remove now: matching rows of the total, key range, partitions, next run')
    .option('--policy <name>', 'only this policy')
    .action(runs(runtime, (ctx, command) => withManager(ctx, async (dm) => {
      const plan = await dm.lifecycle.plan({ policy: command.opts<{ policy?: string }>().policy });
      if (ctx.json) ctx.io.out(toJson({ policies: plan }));
      else for (const entry of plan) ctx.io.out(formatPlan(entry));
      return EXIT.ok;
    })));
  lifecycle.command('run')
    .description('run the policies now, in small paced batches, with progress on stderr (exit 1 when one failed or stayed contended)')
    .option('--policy <name>', 'only this policy')
    .option('--dry-run', 'say what would go (counts and key ranges); change nothing')
    .action(runs(runtime, (ctx, command) => runPolicies(ctx, command.opts<{ policy?: string; dryRun?: boolean }>())));
  lifecycle.command('history')
    .description('recorded runs, newest first: rows deleted and archived, batches, time, longest lock wait, outcome')
    .option('--policy <name>', 'only this policy')
    .option('--limit <n>', 'at most this many runs (default 20)')
    .action(runs(runtime, (ctx, command) => withManager(ctx, async (dm) => {
      const flags = command.opts<{ policy?: string; limit?: string }>();
      const limit = flags.limit === undefined ? 20 : Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit', `"${flags.limit}" is not a whole number above 0`);
      const runsFound = await dm.lifecycle.history({ policy: flags.policy, limit });
      if (ctx.json) ctx.io.out(toJson({ runs: runsFound }));
      else if (runsFound.length === 0) ctx.io.out('no recorded lifecycle runs');
      else for (const r of runsFound) ctx.io.out(`${r.startedAt.toISOString()}  ${r.job.slice('lifecycle:'.length)}  ${r.status}${r.details.outcome ? ` (${String(r.details.outcome)})` : ''}  deleted ${String(r.details.rowsDeleted ?? 0)}, archived ${String(r.details.rowsArchived ?? 0)}, ${String(r.details.batches ?? 0)} batches, longest lock wait ${String(r.details.longestLockWaitMs ?? 0)} ms${r.error ? `  error: ${r.error}` : ''}`);
      return EXIT.ok;
    })));

  const archive = program.command('archive').description('archives written by lifecycle policies: list, show, restore');
  const archiveOptions = (command: Command) => command
    .option('--dest <dir>', 'the archive destination (default: "lifecycle.archival.destination" in the config)')
    .option('--passphrase-file <file>', "the archives' passphrase (else archival.passphraseFile, backups.passphraseFile, $DATAKEEP_REPO_PASSPHRASE(_FILE))");
  archiveOptions(archive.command('list').description('every archive, oldest first').option('--database <id>', 'only the archives of this database'))
    .action(runs(runtime, (ctx, command) => withManager(ctx, async (dm) => {
      const flags = command.opts<ArchiveFlags>();
      const list = await dm.lifecycle.archives.list({ database: flags.database, destination: flags.dest, passphraseFile: flags.passphraseFile });
      if (ctx.json) ctx.io.out(toJson({ archives: list }));
      else if (list.length === 0) ctx.io.out('no archives');
      else for (const a of list) ctx.io.out(`${a.archiveId}  ${a.createdAt}  ${a.database} ${a.target}  ${a.rows} rows, keys ${JSON.stringify(a.firstKey)}..${JSON.stringify(a.lastKey)}  (policy ${a.policy})`);
      return EXIT.ok;
    })));
  archiveOptions(archive.command('show').description('one archive: what it holds, and its first rows').argument('<id>', 'the archive id (datakeep archive list)').option('--rows <n>', 'how many rows to print (default 5)'))
    .action(runs(runtime, (ctx, command) => withManager(ctx, async (dm) => {
      const flags = command.opts<ArchiveFlags & { rows?: string }>();
      const limit = flags.rows === undefined ? 5 : Number(flags.rows);
      if (!Number.isInteger(limit) || limit < 0) throw new UsageError('--rows', `"${flags.rows}" is not a whole number`);
      const shown = await dm.lifecycle.archives.show(command.args[0]!, { limit, destination: flags.dest, passphraseFile: flags.passphraseFile });
      if (ctx.json) ctx.io.out(toJson(shown));
      else {
        ctx.io.out(`${shown.archiveId}: ${shown.rows} rows of ${shown.target} (${shown.database}, ${shown.engine}), policy ${shown.policy}, ${shown.createdAt}`);
        ctx.io.out(`  keys ${JSON.stringify(shown.firstKey)}..${JSON.stringify(shown.lastKey)}; sha256 ${shown.sha256}; ${shown.storedBytes} bytes stored`);
        ctx.io.out(`  columns: ${shown.schema.map((c) => `${c.name} ${c.type}`).join(', ')}`);
        for (const row of shown.sample) ctx.io.out(`  ${row}`);
      }
      return EXIT.ok;
    })));
  archiveOptions(archive.command('restore').description('put an archive\'s rows back (one transaction; an existing key aborts it, nothing written; audited)')
    .argument('<id>', 'the archive id (datakeep archive list)')
    .option('--into <table>', 'another table (same columns) instead of the one the rows came from')
    .option('--database <id>', 'another database (of the same engine) instead of the one the rows came from'))
    .action(runs(runtime, (ctx, command) => withManager(ctx, async (dm) => {
      const flags = command.opts<ArchiveFlags & { into?: string }>();
      const result = await dm.lifecycle.archives.restore(command.args[0]!, { into: flags.into, database: flags.database, destination: flags.dest, passphraseFile: flags.passphraseFile });
      if (ctx.json) ctx.io.out(toJson(result));
      else ctx.io.out(`restored ${result.rows} rows of ${result.archiveId} into ${result.into} on ${result.database}`);
      return EXIT.ok;
    })));
}

async function runPolicies(ctx: CommandContext, flags: { policy?: string; dryRun?: boolean }): Promise<number> {
  return withManager(ctx, async (dm) => {
    const stop = new AbortController();
    // Ctrl-C stops after the batch in progress: what it archived is deleted or left for the next run, never lost.
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    const progress = new ProgressLine((t) => process.stderr.write(t), Boolean(process.stderr.isTTY) && !ctx.json, formatRows);
    let results: LifecycleRunResult[];
    try {
      results = await dm.lifecycle.run({
        policy: flags.policy, dryRun: flags.dryRun ?? false, signal: stop.signal,
        onProgress: (p) => {
          if (p.phase === 'batches' || p.phase === 'done') progress.update(`${p.policy}`, p.rowsDone, p.rowsTotal > 0 ? Math.min(1, p.rowsDone / p.rowsTotal) : undefined, p.phase === 'done');
        },
      });
    } finally {
      process.removeListener('SIGINT', onSignal);
    }
    if (ctx.json) ctx.io.out(toJson({ runs: results }));
    else for (const r of results) ctx.io.out(formatResult(r));
    return results.some((r) => r.outcome === 'failed' || r.outcome === 'contended') ? EXIT.failed : EXIT.ok;
  });
}

function formatPlan(e: LifecyclePlanEntry): string {
  const partitions = e.partitions.length ? `; ${e.partitions.length} expired partition(s): ${e.partitions.join(', ')}` : '';
  const range = e.rows > 0 ? ` keys ${JSON.stringify(e.firstKey)}..${JSON.stringify(e.lastKey)}` : '';
  return `${e.policy}: ${e.action} ${e.rows} of ${e.total} rows of ${e.target} on ${e.database}${range}${partitions}; ${e.schedule} (${e.timeZone})${e.nextRun ? `, next ${e.nextRun}` : ''}${e.refusal ? `\n  REFUSED: ${e.refusal}` : ''}`;
}

function formatResult(r: LifecycleRunResult): string {
  if (r.dryRun) return `${r.policy}: dry run${r.error ? `; would refuse: ${r.error}` : ''} (see datakeep lifecycle plan for counts)`;
  const parts = [`deleted ${r.rowsDeleted}`, `archived ${r.rowsArchived} in ${r.archives.length} archive(s)`, `${r.batches} batches`, `${(r.durationMs / 1000).toFixed(1)} s`, `longest lock wait ${r.longestLockWaitMs} ms`];
  if (r.partitionsDropped.length) parts.push(`dropped ${r.partitionsDropped.join(', ')}`);
  if (r.recovered) parts.push(`finished ${r.recovered} item(s) a killed run left`);
  return `${r.policy}: ${r.outcome}; ${parts.join(', ')}${r.error ? `\n  error: ${r.error}` : ''}`;
}
