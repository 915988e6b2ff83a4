import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { systemCheck, type SystemCheck } from '../monitoring/system-check.js';
import type { LogRecord } from './coordinator-log.js';
import { messageOf } from './distributed-transaction.js';
import { xaParticipantFor } from './participant-factory.js';
import { scanPrepared } from './prepared-scan.js';
import type { PreparedBranch } from './transaction-types.js';

export interface TransactionCheckInput {
  readonly adapters: readonly DatabaseAdapter[];
  /** Prepared branches and in-doubt records older than this are errors (they hold locks and block VACUUM). */
  readonly stalePreparedAfterMs: number;
  /** Distributed transactions running in this process now (their prepared branches are not in doubt). */
  readonly live: ReadonlySet<string>;
  openLog(): Promise<LogRecord[]>;
}

/**
 * validateSystem()'s transaction checks: `transactions:prepare:<id>` (an XA-capable database that cannot prepare,
 * e.g. PostgreSQL's max_prepared_transactions = 0, warns naming the setting); `transactions:prepared:<id>` (prepared
 * branches not belonging to a transaction running here: a warning, an error once older than stalePreparedAfter);
 * `transactions:in-doubt` (the coordinator log's transactions that recovery has not finished).
 */
export async function transactionChecks(input: TransactionCheckInput): Promise<SystemCheck[]> {
  const checks: SystemCheck[] = [];
  const xa = input.adapters.filter((adapter) => xaParticipantFor(adapter) !== undefined);
  for (const adapter of xa) {
    const name = `transactions:prepare:${adapter.id}`;
    try {
      const reason = await xaParticipantFor(adapter)!.cannotPrepare();
      checks.push(reason ? systemCheck(name, 'warn', `cannot prepare transactions: ${reason}`) : systemCheck(name, 'ok', 'can prepare transactions'));
    } catch (error) {
      checks.push(systemCheck(name, 'error', messageOf(error)));
    }
  }
  const staleSeconds = input.stalePreparedAfterMs / 1000;
  const byAdapter = new Map<string, PreparedBranch[]>(xa.map((a) => [a.id, []]));
  const scan = await scanPrepared(input.adapters, { all: true });
  for (const { prepared } of scan.branches) {
    if (prepared.globalId !== undefined && input.live.has(prepared.globalId)) continue;
    byAdapter.get(prepared.adapterId)?.push(prepared);
  }
  for (const [adapterId, prepared] of byAdapter) {
    const name = `transactions:prepared:${adapterId}`;
    if (scan.unreachable.has(adapterId)) {
      checks.push(systemCheck(name, 'error', `cannot list prepared transactions: ${scan.unreachable.get(adapterId)}`));
      continue;
    }
    if (prepared.length === 0) {
      checks.push(systemCheck(name, 'ok', 'no prepared transaction in doubt'));
      continue;
    }
    const ages = prepared.map((p) => (p.preparedAt ? (Date.now() - p.preparedAt.getTime()) / 1000 : 0));
    const oldest = Math.max(...ages);
    const stale = ages.filter((a) => a > staleSeconds).length;
    const ids = `${prepared.map((p) => p.transactionId).slice(0, 5).join(', ')}${prepared.length > 5 ? ', ...' : ''}`;
    checks.push(stale > 0
      ? systemCheck(name, 'error', `${stale} prepared transaction(s) older than ${staleSeconds} s hold locks and block VACUUM (${ids}); finish them with datakeep tx list / datakeep tx resolve ID --commit|--rollback`)
      : systemCheck(name, 'warn', `${prepared.length} prepared transaction(s) in doubt${oldest > 0 ? `, oldest ${Math.round(oldest)} s` : ''} (${ids}); recovery finishes datakeep's, datakeep tx resolve others`));
  }
  // Without an XA-capable database no distributed transaction can exist, and reading the log would open the state
  // store (seconds for the embedded one) for nothing.
  if (xa.length === 0) return checks;
  try {
    const doubtful = inDoubt(await input.openLog(), input.live);
    const stale = doubtful.filter((r) => r.ageMs > input.stalePreparedAfterMs);
    const status = stale.length > 0 ? 'error' : doubtful.length > 0 ? 'warn' : 'ok';
    const detail = stale.length > 0
      ? `${stale.length} distributed transaction(s) in doubt for more than ${staleSeconds} s (${stale.map((r) => r.globalId).slice(0, 5).join(', ')}); recovery has not finished them: see datakeep tx list`
      : `${doubtful.length} in-doubt distributed transaction(s) in the coordinator log${doubtful.length ? '; recovery is finishing them' : ''}`;
    checks.push(systemCheck('transactions:in-doubt', status, detail));
  } catch (error) {
    checks.push(systemCheck('transactions:in-doubt', 'warn', `cannot read the transaction coordinator log: ${messageOf(error)}`));
  }
  return checks;
}

/** Log records whose transaction is not running here and is decided, or past its timeout: recovery's work. */
export function inDoubt(open: readonly LogRecord[], live: ReadonlySet<string>): LogRecord[] {
  return open.filter((r) => !live.has(r.globalId) && (r.decision !== undefined || r.ageMs > r.timeoutMs));
}
