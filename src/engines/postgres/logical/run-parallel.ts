/**
 * Runs `fn` over `items` with at most `workers` at a time; the first failure stops the others from starting new
 * items and is what the call rejects with (after those running have settled, so no work outlives the call).
 */
export async function runParallel<T>(items: readonly T[], workers: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const loop = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        signal?.throwIfAborted();
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, loop));
  if (failure) throw failure.error;
}
