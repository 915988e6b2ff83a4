import type { Repository } from '../../../repository/repository-types.js';
import { UsageError } from '../../../errors/index.js';
import { parseLsn, parseSegmentName, segmentName, segmentOf } from './wal-position.js';

export interface WalCheckOptions {
  /** First segment (name or LSN); default: the start segment of the oldest completed backup. */
  from?: string;
  /** Last segment (name or LSN); default: the newest segment archived on the timeline. */
  to?: string;
  /** Timeline to follow (its .history file gives the switch points); default: the newest archived one. */
  timeline?: number;
  /** Default: recorded by the backups, else 16 MiB. */
  walSegmentSize?: number;
  /**
   * Read and authenticate every segment in the range, not only its name (default false here; the CLI turns it on):
   * a damaged segment stops recovery as surely as a missing one.
   */
  authenticate?: boolean;
}

export interface WalCheckReport {
  readonly ok: boolean;
  readonly timeline: number;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly segmentsChecked: number;
  /** The first segment the archive lacks (PITR cannot replay past the segment before it). */
  readonly firstMissing: string | undefined;
  /** Up to 100 missing segments, in order. */
  readonly missing: readonly string[];
  /** Segments present but damaged (they fail authentication), up to 100, when `authenticate` was asked. */
  readonly corrupt: readonly string[];
}

/**
 * Proves the WAL archive has no gap from `from` to `to`: every segment name in between exists, following timeline
 * switches recorded in `.history` files (segments before a switch come from the older timeline).
 */
export async function walCheck(repository: Repository, options: WalCheckOptions = {}): Promise<WalCheckReport> {
  const archived = new Set(await repository.listWal());
  const backups = await repository.list();
  const segmentSize = options.walSegmentSize ?? Number(backups.find((b) => b.metadata.walSegmentSize)?.metadata.walSegmentSize ?? 16 * 1024 * 1024);

  const segments = [...archived].map((name) => ({ name, parsed: parseSegmentName(name, segmentSize) })).filter((s) => s.parsed);
  const timeline = options.timeline ?? Math.max(0, ...segments.map((s) => s.parsed!.timeline));
  const switches = await timelineSwitches(repository, timeline, segmentSize);
  const expectedTimeline = (segment: bigint): number => switches.find((s) => segment < s.fromSegment)?.timeline ?? timeline;

  const oldestBackupStart = backups.map((b) => (b.metadata.walSegments as string[] | undefined)?.[0]).find((n) => n !== undefined);
  const fromText = options.from ?? oldestBackupStart;
  const from = fromText === undefined ? undefined : toSegment('from', fromText, segmentSize);
  const onTimeline = segments.filter((s) => s.parsed!.timeline === expectedTimeline(s.parsed!.segment)).map((s) => s.parsed!.segment);
  const to = options.to !== undefined ? toSegment('to', options.to, segmentSize) : onTimeline.reduce<bigint | undefined>((a, b) => (a === undefined || b > a ? b : a), undefined);
  const start = from ?? onTimeline.reduce<bigint | undefined>((a, b) => (a === undefined || b < a ? b : a), undefined);
  if (start === undefined || to === undefined || timeline === 0) {
    return { ok: true, timeline, from: undefined, to: undefined, segmentsChecked: 0, firstMissing: undefined, missing: [], corrupt: [] };
  }
  const missing: string[] = [];
  const corrupt: string[] = [];
  let checked = 0;
  let missingCount = 0;
  for (let segment = start; segment <= to; segment += 1n) {
    const name = segmentName(expectedTimeline(segment), segment, segmentSize);
    checked += 1;
    if (!archived.has(name)) {
      missingCount += 1;
      if (missing.length < 100) missing.push(name);
    } else if (options.authenticate) {
      try {
        await repository.getWal(name);
      } catch {
        if (corrupt.length < 100) corrupt.push(name);
      }
    }
  }
  return {
    ok: missingCount === 0 && corrupt.length === 0,
    corrupt,
    timeline,
    from: segmentName(expectedTimeline(start), start, segmentSize),
    to: segmentName(expectedTimeline(to), to, segmentSize),
    segmentsChecked: checked,
    firstMissing: missing[0],
    missing,
  };
}

/** The timelines before `timeline` with the first segment that belongs to the next one, oldest first. */
async function timelineSwitches(repository: Repository, timeline: number, segmentSize: number): Promise<{ timeline: number; fromSegment: bigint }[]> {
  if (timeline <= 1) return [];
  const history = await repository.getWal(`${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`);
  if (!history) return [];
  const out: { timeline: number; fromSegment: bigint }[] = [];
  for (const line of history.toString('utf8').split('\n')) {
    const match = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (match) out.push({ timeline: Number(match[1]), fromSegment: segmentOf(parseLsn(match[2]!), segmentSize) });
  }
  return out;
}

function toSegment(argument: string, text: string, segmentSize: number): bigint {
  const parsed = /^[0-9A-Fa-f]+\/[0-9A-Fa-f]+$/.test(text) ? { segment: segmentOf(parseLsn(text), segmentSize) } : parseSegmentName(text, segmentSize);
  if (!parsed) throw new UsageError(argument, `"${text}" is neither a WAL segment name (24 hex digits) nor an LSN (such as 0/3000060)`);
  return parsed.segment;
}
