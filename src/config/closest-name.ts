/**
 * The allowed name closest to a typo (same letters up to case and separators, or at most two edits, a swap of two
 * neighbours counting as one), for "Did you mean ...?" hints; undefined when nothing is that close.
 */
export function closestName(name: string, allowed: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = norm(candidate) === norm(name) ? 0 : editDistance(norm(candidate), norm(name));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, before[j - 2]! + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** closestName as a list (empty when nothing is close), for messages that join candidates. */
export function closestNames(name: string, allowed: readonly string[]): string[] {
  const found = closestName(name, allowed);
  return found === undefined ? [] : [found];
}
