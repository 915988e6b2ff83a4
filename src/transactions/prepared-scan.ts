import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { messageOf } from './distributed-transaction.js';
import { xaParticipantFor } from './participant-factory.js';
import type { PreparedBranch } from './transaction-types.js';
import type { XaParticipant } from './xa-participant.js';

export interface PreparedScan {
  readonly branches: readonly { readonly participant: XaParticipant; readonly prepared: PreparedBranch }[];
  /** Adapters that could not be asked, with the reason. */
  readonly unreachable: ReadonlyMap<string, string>;
}

/**
 * Every prepared branch on every XA-capable adapter (every coordinator's, and foreign ones with `all`). MariaDB's
 * XA RECOVER is server-wide, so two adapters on one server list the same branch once.
 */
export async function scanPrepared(adapters: readonly DatabaseAdapter[], options: { all?: boolean } = {}): Promise<PreparedScan> {
  const branches: { participant: XaParticipant; prepared: PreparedBranch }[] = [];
  const unreachable = new Map<string, string>();
  const seen = new Set<string>();
  await Promise.all(adapters.map(async (adapter) => {
    const participant = xaParticipantFor(adapter);
    if (!participant) return;
    try {
      for (const prepared of await participant.listPrepared(options)) {
        const key = participant.preparedScope === 'database' ? `${participant.adapterId}:${prepared.transactionId}` : `xa:${prepared.transactionId}`;
        if (seen.has(key)) continue;
        seen.add(key);
        branches.push({ participant, prepared });
      }
    } catch (error) {
      unreachable.set(adapter.id, messageOf(error));
    }
  }));
  return { branches, unreachable };
}
