import type { Command } from 'commander';
import type { ReplicationStatus } from '../replication/replication-manager.js';
import type { FailoverResult } from '../replication/run-failover.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime, type CommandContext } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { withManager, withRepositoryOnly } from './with-manager.js';

/**
 * `datakeep replication status|setup|switchover|failover|watch` over the config file's "replication" section
 * (docs/replication.md). Switchover and failover print the plan with --dry-run, and the steps as done otherwise.
 * status, switchover and failover never connect the configured database as an adapter: it may be the member that
 * is down, and they talk to every member themselves.
 */
export function registerReplicationCommands(program: Command, runtime: CliRuntime): void {
  const replication = program.command('replication').description('replicas, lag, switchover and failover (docs/replication.md)');
  replication.command('status')
    .description('every member: role, stream and sync state, lag in bytes and seconds; exit 1 when something is wrong')
    .action(runs(runtime, (ctx) => withRepositoryOnly(ctx, async (dm) => {
      const status = await dm.replication.status();
      if (ctx.json) ctx.io.out(toJson(status));
      else printStatus(ctx, status);
      return status.problems.length ? EXIT.failed : EXIT.ok;
    })));
  replication.command('setup')
    .description('create the configured replicas whose data directory is missing or empty, apply the sync settings, then print the status')
    .action(runs(runtime, (ctx) => withManager(ctx, async (dm) => {
      const section = dm.replication.configured();
      const result = await dm.setupReplication({ ...section, automaticFailover: false });
      if (ctx.json) ctx.io.out(toJson(result));
      else {
        ctx.io.out(result.created.length ? `created ${result.created.join(', ')}` : 'no replica needed creating');
        printStatus(ctx, result.status);
      }
      return result.status.problems.length ? EXIT.failed : EXIT.ok;
    })));
  replication.command('switchover')
    .description('planned change of primary, nothing lost: stop writes, wait for the candidate, promote, rejoin the old primary')
    .option('--to <member>', 'the member to promote (a name or host:port; default the best candidate)')
    .option('--dry-run', 'print what would happen; change nothing')
    .action(runs(runtime, (ctx, command) => withRepositoryOnly(ctx, async (dm) => {
      const flags = command.opts<{ to?: string; dryRun?: boolean }>();
      return printResult(ctx, await dm.replication.switchover({ target: flags.to, dryRun: flags.dryRun }));
    })));
  replication.command('failover')
    .description('promote TARGET: a switchover when the primary is up, else a failover that fences the old primary')
    .argument('[target]', 'the member to promote (a name or host:port; default the best candidate)')
    .option('--dry-run', 'print what would happen; change nothing')
    .option('--force', 'promote even when acknowledged writes may be lost (no synchronous standby reachable, TARGET behind another)')
    .action(runs(runtime, (ctx, command) => withRepositoryOnly(ctx, async (dm) => {
      const flags = command.opts<{ dryRun?: boolean; force?: boolean }>();
      return printResult(ctx, await dm.failover(command.args[0], { dryRun: flags.dryRun, force: flags.force }));
    })));
  replication.command('watch')
    .description('hold the failover lease and watch the primary until Ctrl-C (automatic failover; needs "authority" in the config)')
    .action(runs(runtime, (ctx) => withManager(ctx, async (dm) => {
      const section = dm.replication.configured();
      await dm.setupReplication({ ...section, automaticFailover: true });
      ctx.io.err(`watching ${dm.replication.describeWatch()}; Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await dm.replication.stop();
      for (const e of dm.replication.events()) if (e.kind !== 'setup') ctx.io.out(`${e.at.toISOString()} ${e.kind} ${e.from ?? ''} -> ${e.to ?? ''} ${e.outcome}${e.error ? `: ${e.error}` : ''}`);
      return EXIT.ok;
    })));
}

function printStatus(ctx: CommandContext, s: ReplicationStatus): void {
  ctx.io.out(`${s.database}: ${s.mode}${s.degraded ? ' (degraded to async)' : ''}, primary ${s.primary}, epoch ${s.epoch}${s.authority ? `, authority ${s.authority.description}${s.authority.leader ? ' (this instance leads)' : ''}` : ''}`);
  for (const n of s.nodes) {
    const lag = n.lag ? `lag ${n.lag.replayBytes ?? '?'} B / ${n.lag.replaySeconds ?? '?'} s (write ${n.lag.writeBytes ?? '?'} B, flush ${n.lag.flushBytes ?? '?'} B)` : '';
    const where = n.role === 'primary' ? `at ${n.position ?? '?'}` : `received ${n.receivedPosition ?? '?'}, replayed ${n.replayedPosition ?? '?'}`;
    ctx.io.out(`  ${n.name.padEnd(20)} ${n.reachable ? n.role.padEnd(8) : 'DOWN    '} ${n.reachable ? `${where}${n.streamState ? `  ${n.streamState}` : ''}${n.syncState ? ` ${n.syncState}` : ''}  ${lag}` : n.error ?? ''}`);
  }
  for (const p of s.problems) ctx.io.out(`  ! ${p}`);
}

function printResult(ctx: CommandContext, r: FailoverResult): number {
  if (ctx.json) {
    ctx.io.out(toJson(r));
    return EXIT.ok;
  }
  ctx.io.out(`${r.dryRun ? 'would promote' : 'promoted'} ${r.to} in place of ${r.from}${r.epoch !== undefined ? ` (epoch ${r.epoch})` : ''}${r.dryRun ? '' : ` in ${(r.durationMs / 1000).toFixed(2)} s`}`);
  for (const c of r.considered) ctx.io.out(`  ${c.eligible ? 'candidate' : 'skipped  '} ${c.name}: ${c.reason}`);
  r.steps.forEach((s, i) => ctx.io.out(`  ${i + 1}. ${s.step}${s.detail ? `: ${s.detail}` : ''}${r.dryRun ? '' : ` (${s.ms} ms)`}`));
  for (const w of r.warnings) ctx.io.out(`  ! ${w}`);
  return EXIT.ok;
}
