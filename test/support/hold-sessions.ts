import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';

/**
 * Makes the adapter's pool hold `count` sessions: as many transactions, each waiting until all have begun, so that
 * none can reuse another's session. They are back in the pool, idle, when this resolves.
 */
export async function holdSessions(db: DatabaseAdapter, count: number): Promise<void> {
  let begun = 0;
  let allBegun!: () => void;
  const gate = new Promise<void>((resolve) => (allBegun = resolve));
  await Promise.all(
    Array.from({ length: count }, () =>
      db.transaction(async (tx) => {
        await tx.query('SELECT 1');
        begun += 1;
        if (begun === count) allBegun();
        await gate;
      }),
    ),
  );
}
