import { startMeasurement, type Measurement } from './measurement.js';

/**
 * Runs `task(0..total-1)` with exactly `concurrency` calls in flight (a closed loop: each worker starts the next
 * operation when its previous one settles), and times the whole batch. A failing task rejects the run: a benchmark that
 * counts errors as throughput measures nothing.
 */
export async function runConcurrent(total: number, concurrency: number, task: (index: number) => Promise<unknown>): Promise<Measurement> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const index = next;
      next += 1;
      await task(index);
    }
  };
  const done = startMeasurement();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return done(total);
}
