/** Levenshtein distance, case-insensitive, with `_`/`-` ignored: how far a typo is from a name. */
export function nameDistance(a: string, b: string): number {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const x = norm(a);
  const y = norm(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= y.length; j += 1) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[y.length]!;
}

/** The candidates within two edits of `name` (closest first), for "did you mean" hints. */
export function closestNames(name: string, candidates: readonly string[], limit = 3): string[] {
  return candidates
    .map((c) => ({ c, d: nameDistance(name, c) }))
    .filter(({ d }) => d <= 2)
    .sort((p, q) => p.d - q.d || p.c.localeCompare(q.c))
    .slice(0, limit)
    .map(({ c }) => c);
}
