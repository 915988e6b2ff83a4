import type { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { TransactionView } from '../transactions/transaction-types.js';
import { toJson } from './cli-io.js';
import { runs, type CliRuntime } from './command-context.js';
import { EXIT } from './exit-codes.js';
import { withManager } from './with-manager.js';

interface ResolveFlags {
  commit?: boolean;
  rollback?: boolean;
  dryRun?: boolean;
}

/**
 * `datakeep tx list`: distributed transactions not finished and every prepared branch on the configured databases;
 * exit 1 when any is in doubt. `datakeep tx resolve ID --commit|--rollback`: the operator's decision, audited.
 */
export function registerTxCommands(program: Command, runtime: CliRuntime): void {
  const tx = program.command('tx').description('distributed transactions (docs/transactions.md)');
  tx.command('list')
    .description('unfinished distributed transactions and prepared branches (exit 1 when any is in doubt)')
    .action(runs(runtime, (ctx) => withManager(ctx, async (dm) => {
      const views = await dm.transactions.list();
      if (ctx.json) ctx.io.out(toJson({ transactions: views }));
      else if (views.length === 0) ctx.io.out('no unfinished distributed transactions and no prepared branches');
      else for (const view of views) ctx.io.out(formatView(view));
      return views.some((v) => v.inDoubt) ? EXIT.failed : EXIT.ok;
    })));
  tx.command('resolve')
    .description('finish an in-doubt distributed transaction by hand (audited)')
    .argument('<id>', 'its global id (datakeep tx list)')
    .option('--commit', 'commit every prepared branch')
    .option('--rollback', 'roll every prepared branch back')
    .option('--dry-run', 'say what would happen; change nothing')
    .action(runs(runtime, (ctx, command) => {
      const id = command.args[0]!;
      const flags = command.opts<ResolveFlags>();
      if (Boolean(flags.commit) === Boolean(flags.rollback)) throw new UsageError('--commit|--rollback', 'give exactly one of them; usage: datakeep tx resolve ID --commit|--rollback [--dry-run]');
      return withManager(ctx, async (dm) => {
        const result = await dm.transactions.resolve(id, flags.commit ? 'commit' : 'rollback', { dryRun: flags.dryRun ?? false });
        if (ctx.json) ctx.io.out(toJson(result));
        else if (result.dryRun) ctx.io.out(`dry run: would ${result.action} ${result.globalId} (outcome ${result.outcome}); nothing changed`);
        else ctx.io.out(`${result.action === 'commit' ? 'committed' : 'rolled back'} ${result.globalId}: ${result.finished.length} branch(es) finished, outcome ${result.outcome} (audited)`);
        return EXIT.ok;
      });
    }));
}

function formatView(v: TransactionView): string {
  const head = `${v.globalId}  ${v.state}${v.decision ? ` decision=${v.decision}` : ''}${v.outcome ? ` outcome=${v.outcome}` : ''}${v.inDoubt ? '  IN DOUBT' : ''}` +
    `${v.ageSeconds !== undefined ? `  age ${v.ageSeconds} s` : ''}${v.nodeId ? `  node ${v.nodeId}` : ''}`;
  const participants = v.participants.map((p) => `    participant ${p.branch}: ${p.adapterId} (${p.type}, ${p.role})`);
  const prepared = v.prepared.map((p) => `    prepared on ${p.adapterId}: ${p.transactionId}${p.preparedAt ? ` since ${p.preparedAt.toISOString()}` : ''}`);
  return [head, ...participants, ...prepared].join('\n');
}
