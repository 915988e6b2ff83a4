import type { Repository } from '../../../repository/repository-types.js';
import { parseLsn } from './wal-position.js';

/** One switch in a timeline's history: `timeline` ended at `switchLsn`, where the next one began. */
export interface TimelineSwitch {
  readonly timeline: number;
  readonly switchLsn: bigint;
}

/**
 * A timeline and the switches that led to it, oldest first, as its `.history` file records them. Answers which
 * timeline holds the WAL at a position: PostgreSQL reads a position before a switch from the older timeline's segments.
 */
export class TimelineHistory {
  constructor(readonly timeline: number, readonly switches: readonly TimelineSwitch[]) {}

  /** Parses a `.history` file ("parentTLI<TAB>switchpoint<TAB>reason" lines). */
  static parse(timeline: number, text: string): TimelineHistory {
    const switches: TimelineSwitch[] = [];
    for (const line of text.split('\n')) {
      const match = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
      if (match) switches.push({ timeline: Number(match[1]), switchLsn: parseLsn(match[2]!) });
    }
    return new TimelineHistory(timeline, switches);
  }

  /** The history of `timeline` from the repository's archive; timeline 1, or one without a history file, has none. */
  static async load(repository: Repository, timeline: number): Promise<TimelineHistory> {
    if (timeline <= 1) return new TimelineHistory(timeline, []);
    const content = await repository.getWal(`${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`);
    return content === undefined ? new TimelineHistory(timeline, []) : TimelineHistory.parse(timeline, content.toString('utf8'));
  }

  /** The timeline whose WAL holds the byte at `lsn` on the way to this timeline. */
  timelineAt(lsn: bigint): number {
    return this.switches.find((s) => lsn < s.switchLsn)?.timeline ?? this.timeline;
  }

  /**
   * True when WAL from `startLsn` on timeline `from` leads to this timeline: `from` is this timeline, or an ancestor
   * that this history left at or after `startLsn` (a backup taken on a timeline after it was abandoned cannot).
   */
  reaches(from: number, startLsn: bigint): boolean {
    if (from === this.timeline) return true;
    const left = this.switches.find((s) => s.timeline === from);
    return left !== undefined && startLsn <= left.switchLsn;
  }

  /**
   * The timeline whose file holds segment `segment`: the segment where a switch happens is read from the new timeline
   * (the server copies its first part there), as PostgreSQL's recovery does.
   */
  timelineOfSegment(segment: bigint, segmentSize: number): number {
    return this.switches.find((s) => segment < s.switchLsn / BigInt(segmentSize))?.timeline ?? this.timeline;
  }

  /** Where this timeline's WAL stops being `timeline`'s (undefined: `timeline` is this one or not an ancestor). */
  endOf(timeline: number): bigint | undefined {
    return timeline === this.timeline ? undefined : this.switches.find((s) => s.timeline === timeline)?.switchLsn;
  }
}
