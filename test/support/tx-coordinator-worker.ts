/**
 * A coordinator in a process of its own, for the crash tests: runs one distributed transaction over pg1, pg2, maria
 * and cache (or the `participants` given) and SIGKILLs itself when the coordinator reaches the step named on the
 * command line. The fault goes in
 * through the coordinator's `onStep` option (a seam any caller has), not through anything production code reads.
 *
 *   node --import tsx test/support/tx-coordinator-worker.ts '{"settings": ..., "step": "decided", "row": 7, "prefix": "dk-tx-..:"}'
 */
import { DataManager } from '../../src/data-manager.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import type { TransactionManagerOptions } from '../../src/transactions/transaction-types.js';
import { silentLogger } from '../../src/util/logger.js';

interface WorkerInput {
  settings: { databases: DatabaseConfig[]; stateUrl: string; transactions: TransactionManagerOptions };
  step: string;
  row: number;
  prefix: string;
  /** With `background`, the kill waits until the caller was answered (the outcome line is printed). */
  phase2?: 'wait' | 'background';
  /** Default pg1, pg2, maria, cache: each SQL participant gets the row, the cache a key. */
  participants?: string[];
  decisionIn?: 'auto' | false | string;
}

const input = JSON.parse(process.argv[2]!) as WorkerInput;
const dm = new DataManager({ config: { databases: input.settings.databases, state: { url: input.settings.stateUrl } }, logger: silentLogger });
await dm.initialize();
dm.transactions.configure({ ...input.settings.transactions, recoveryInterval: 0 });
let answered!: () => void;
const answeredNow = new Promise<void>((resolve) => (answered = resolve));
try {
  const participants = input.participants ?? ['pg1', 'pg2', 'maria', 'cache'];
  const result = await dm.transactions.distributed(participants, async (tx) => {
    for (const id of participants.filter((p) => p !== 'cache')) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [input.row, 'crash']);
    if (participants.includes('cache')) tx.on<RedisTransactionContext>('cache').queue(['SET', `${input.prefix}t:${input.row}`, 'crash']);
  }, {
    phase2: input.phase2,
    ...(input.decisionIn === undefined ? {} : { decisionIn: input.decisionIn }),
    onStep: async (step, globalId) => {
      process.stdout.write(`${step} ${globalId}\n`);
      if (step !== input.step) return;
      if (input.phase2 === 'background') await answeredNow;
      process.kill(process.pid, 'SIGKILL');
    },
  });
  process.stdout.write(`outcome ${result.outcome}\n`);
  answered();
} finally {
  await dm.close();
}
