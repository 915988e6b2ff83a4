import type { CommitMarkableParticipant } from './commit-markable.js';
import { DelayedBatch } from './delayed-batch.js';

/**
 * Removes the decision rows of finished transactions: gathered for 20 ms (long enough to gather several transactions
 * at a few hundred per second; nobody waits for it), then one DELETE per database for all of them. A lost removal
 * leaves a row that recovery sweeps later (TransactionRecovery).
 */
export class DecisionRowCleaner {
  readonly #batch = new DelayedBatch<{ participant: CommitMarkableParticipant; globalId: string }>(async (items) => {
    const byAdapter = new Map<string, { participant: CommitMarkableParticipant; ids: string[] }>();
    for (const { participant, globalId } of items) {
      const entry = byAdapter.get(participant.adapterId) ?? { participant, ids: [] };
      entry.ids.push(globalId);
      byAdapter.set(participant.adapterId, entry);
    }
    await Promise.allSettled([...byAdapter.values()].map(({ participant, ids }) => participant.forget(ids)));
  }, 20);

  forgetSoon(participant: CommitMarkableParticipant, globalId: string): void {
    this.#batch.add({ participant, globalId });
  }

  flush(): Promise<void> {
    return this.#batch.flush();
  }
}
