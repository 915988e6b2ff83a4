import type { Repository } from '../../../repository/repository-types.js';
import { isOplogSliceName, sliceNameRange } from './oplog-slice.js';
import { compareOplogTime, type OplogTime } from './oplog-timestamp.js';

export interface OplogChainLink {
  readonly name: string;
  readonly previous: OplogTime;
  readonly last: OplogTime;
}

export interface OplogChain {
  /** The slices to replay, in order; each covers the position after the former's end (slices may overlap). */
  readonly links: readonly OplogChainLink[];
  /** The last position the unbroken chain reaches (`from` when no slice continues it). */
  readonly end: OplogTime;
  /** Set when later slices exist beyond a hole: the position after which entries are missing. */
  readonly gapAfter: OplogTime | undefined;
}

/** Every oplog slice in the repository's log archive, from its listing (names carry both ends). */
export async function listOplogSlices(repository: Repository): Promise<OplogChainLink[]> {
  const links: OplogChainLink[] = [];
  for (const name of await repository.listWal()) {
    const range = isOplogSliceName(name) ? sliceNameRange(name) : undefined;
    if (range) links.push({ name, ...range });
  }
  return links.sort((a, b) => compareOplogTime(a.previous, b.previous) || compareOplogTime(a.last, b.last));
}

/**
 * The unbroken run of slices from `from` (a backup's oplog start): at each step the slice that continues the position
 * reached (starts at or before it, ends after it) and reaches furthest. A backup's own slices chain exactly; slices
 * of a continuous capture may overlap them, and replay skips entries at or before the position reached.
 */
export function chainFrom(slices: readonly OplogChainLink[], from: OplogTime): OplogChain {
  const links: OplogChainLink[] = [];
  let end = from;
  for (;;) {
    let best: OplogChainLink | undefined;
    for (const slice of slices) {
      if (compareOplogTime(slice.previous, end) <= 0 && compareOplogTime(slice.last, end) > 0 && (!best || compareOplogTime(slice.last, best.last) > 0)) best = slice;
    }
    if (!best) break;
    links.push(best);
    end = best.last;
  }
  const beyond = slices.some((s) => compareOplogTime(s.last, end) > 0);
  return { links, end, gapAfter: beyond ? end : undefined };
}
