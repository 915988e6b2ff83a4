import { UsageError } from '../errors/index.js';
import type { TransactionView } from '../transactions/transaction-types.js';
import { toJson } from './cli-io.js';
import { withManager, type CommandContext } from './commands.js';
import { EXIT } from './exit-codes.js';

export interface TxFlags {
  commit: boolean;
  rollback: boolean;
  dryRun: boolean;
}

const USAGE = 'usage: datakeep tx list | datakeep tx resolve ID --commit|--rollback [--dry-run]';

/**
 * `datakeep tx list`: distributed transactions not finished and every prepared branch on the configured databases;
 * exit 1 when any is in doubt. `datakeep tx resolve ID --commit|--rollback`: the operator's decision, audited.
 */
export async function txCommand(ctx: CommandContext, flags: TxFlags): Promise<number> {
  const [sub, id, ...extra] = ctx.positionals;
  if (extra.length) throw new UsageError('tx', `unexpected argument "${extra[0]}"; ${USAGE}`);
  if (sub === 'list') {
    if (id !== undefined) throw new UsageError('tx list', `takes no argument; ${USAGE}`);
    return withManager(ctx, async (dm) => {
      const views = await dm.transactions.list();
      if (ctx.json) ctx.io.out(toJson({ transactions: views }));
      else if (views.length === 0) ctx.io.out('no unfinished distributed transactions and no prepared branches');
      else for (const view of views) ctx.io.out(formatView(view));
      return views.some((v) => v.inDoubt) ? EXIT.failed : EXIT.ok;
    });
  }
  if (sub === 'resolve') {
    if (!id) throw new UsageError('ID', `missing; ${USAGE}`);
    if (flags.commit === flags.rollback) throw new UsageError('--commit|--rollback', `give exactly one of them; ${USAGE}`);
    return withManager(ctx, async (dm) => {
      const result = await dm.transactions.resolve(id, flags.commit ? 'commit' : 'rollback', { dryRun: flags.dryRun });
      if (ctx.json) ctx.io.out(toJson(result));
      else if (result.dryRun) ctx.io.out(`dry run: would ${result.action} ${result.globalId} (outcome ${result.outcome}); nothing changed`);
      else ctx.io.out(`${result.action === 'commit' ? 'committed' : 'rolled back'} ${result.globalId}: ${result.finished.length} branch(es) finished, outcome ${result.outcome} (audited)`);
      return EXIT.ok;
    });
  }
  throw new UsageError('tx', `unknown subcommand "${sub ?? ''}"; ${USAGE}`);
}

function formatView(v: TransactionView): string {
  const head = `${v.globalId}  ${v.state}${v.decision ? ` decision=${v.decision}` : ''}${v.outcome ? ` outcome=${v.outcome}` : ''}${v.inDoubt ? '  IN DOUBT' : ''}` +
    `${v.ageSeconds !== undefined ? `  age ${v.ageSeconds} s` : ''}${v.nodeId ? `  node ${v.nodeId}` : ''}`;
  const participants = v.participants.map((p) => `    participant ${p.branch}: ${p.adapterId} (${p.type}, ${p.role})`);
  const prepared = v.prepared.map((p) => `    prepared on ${p.adapterId}: ${p.transactionId}${p.preparedAt ? ` since ${p.preparedAt.toISOString()}` : ''}`);
  return [head, ...participants, ...prepared].join('\n');
}
