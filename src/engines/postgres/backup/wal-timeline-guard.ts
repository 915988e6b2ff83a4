import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { formatLsn, parseLsn, parseSegmentName } from './wal-position.js';
import { readWalLongPageHeader, WAL_PAGE_MAGIC } from './wal-segment-header.js';

const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

const RESTORED_CLUSTER_ADVICE =
  'This looks like a restored or cloned cluster archiving into its source\'s repository: point its archive_command at a repository of its own (or set archive_mode = off)';

/**
 * Refuses a WAL file whose timeline the archive does not expect, before it is stored. A restored cluster that kept
 * archive_command pointing at its source's repository promotes onto a new timeline and pushes that timeline's
 * .history file and segments; later restores with recovery_target_timeline = 'latest' would then follow the foreign
 * timeline. Throws PostgresBackupError 'wal-timeline' (or 'wal-invalid' for a malformed .history file); nothing is
 * stored, so PostgreSQL keeps the file, logs the message and retries.
 *
 * Runs once per segment, so it costs one listWal(); the backup list is read only when the archive cannot decide.
 */
export async function checkTimelineAccepted(repository: Repository, name: string, content: Buffer, options: { acceptNewTimeline?: boolean } = {}): Promise<void> {
  const archived = await repository.listWal();
  // putWal decides a repeated push: the same content is 'already-present' (the archiver retrying a push whose success
  // it did not see, possibly one accepted with --accept-new-timeline), different content is a 'wal-conflict'.
  if (archived.includes(name)) return;
  const history = /^([0-9A-F]{8})\.history$/.exec(name);
  const timeline = Number.parseInt(name.slice(0, 8), 16);
  const branch = history ? parseHistory(name, timeline, content) : undefined;
  const archive = new ArchiveTimelines(repository, archived);
  if (archive.isEmpty) return;

  if (!branch) {
    if (await archive.knows(timeline)) return;
    throw new PostgresBackupError('wal-timeline', `refusing to archive ${name}: it is on timeline ${timeline}, which this repository does not know (no ${historyName(timeline)}, no segment of timeline ${timeline}, no backup taken on it). PostgreSQL archives a timeline's .history file before its segments, so that file was refused or lost. ${RESTORED_CLUSTER_ADVICE}. Nothing was stored; PostgreSQL keeps the file and retries`, { items: [name] });
  }

  const { parent, branchLsn } = branch;
  if (!(await archive.knows(parent))) {
    throw new PostgresBackupError('wal-timeline', `refusing to archive ${name}: timeline ${timeline} branches from timeline ${parent}, which this repository does not know (no ${historyName(parent)}, no segment of timeline ${parent}, no backup taken on it). ${RESTORED_CLUSTER_ADVICE}. Nothing was stored; PostgreSQL keeps the file and retries`, { items: [name] });
  }
  if (options.acceptNewTimeline) return;
  const newest = archive.newestOf(parent);
  // Nothing of the parent is archived yet, so no archived WAL can lie after the branch point.
  if (newest === undefined) return;
  const newestStart = await segmentStart(repository, newest, archive);
  // A replica promoted after a failover branches at the end of what its primary archived; a restored cluster
  // branches at its recovery target, somewhere in the archived past.
  if (branchLsn >= newestStart) return;
  throw new PostgresBackupError('wal-timeline', `refusing to archive ${name}: timeline ${timeline} branches from timeline ${parent} at ${formatLsn(branchLsn)}, before the end of timeline ${parent}'s archived WAL (${newest} starts at ${formatLsn(newestStart)}), so it was promoted from a copy of the past. ${RESTORED_CLUSTER_ADVICE}. After a failover to a replica that was behind, accept the new timeline once: run 'datakeep wal push pg_wal/${name} --accept-new-timeline' with the same --repo in the data directory. Nothing was stored; PostgreSQL keeps the file and retries`, { items: [name] });
}

/** What the archive's names say about timelines; the repository's backups are consulted only on demand. */
class ArchiveTimelines {
  readonly #repository: Repository;
  /** Segment and .partial names by timeline, in name order (which is LSN order within a timeline). */
  readonly #segments = new Map<number, string[]>();
  readonly #histories = new Set<number>();
  #backupTimelines: Promise<Set<number>> | undefined;
  #segmentSize: Promise<number> | undefined;

  constructor(repository: Repository, names: readonly string[]) {
    this.#repository = repository;
    for (const name of names) {
      const history = /^([0-9A-F]{8})\.history$/.exec(name);
      if (history) this.#histories.add(Number.parseInt(history[1]!, 16));
      else if (/^[0-9A-F]{24}(\.partial)?$/.test(name)) {
        const timeline = Number.parseInt(name.slice(0, 8), 16);
        const list = this.#segments.get(timeline) ?? [];
        list.push(name);
        this.#segments.set(timeline, list);
      }
    }
    for (const list of this.#segments.values()) list.sort();
  }

  get isEmpty(): boolean {
    return this.#segments.size === 0 && this.#histories.size === 0;
  }

  async knows(timeline: number): Promise<boolean> {
    if (timeline === 1 || this.#segments.has(timeline) || this.#histories.has(timeline)) return true;
    this.#backupTimelines ??= this.#repository.list().then((backups) => new Set(backups.map((b) => Number(b.metadata.timeline))));
    return (await this.#backupTimelines).has(timeline);
  }

  newestOf(timeline: number): string | undefined {
    return this.#segments.get(timeline)?.at(-1);
  }

  /** As recorded by the backups, else PostgreSQL's default; only for segments whose own header cannot say. */
  segmentSize(): Promise<number> {
    this.#segmentSize ??= this.#repository.list().then((backups) => {
      const recorded = Number(backups.findLast((b) => b.metadata.walSegmentSize)?.metadata.walSegmentSize);
      return Number.isInteger(recorded) && recorded > 0 ? recorded : DEFAULT_SEGMENT_SIZE;
    });
    return this.#segmentSize;
  }
}

/** The start LSN of an archived segment: from its own header (exact), else from its name. */
async function segmentStart(repository: Repository, name: string, archive: ArchiveTimelines): Promise<bigint> {
  // A .history push happens once per timeline switch, so reading one archived segment here costs little.
  const content = await repository.getWal(name);
  const header = content === undefined ? undefined : readWalLongPageHeader(content);
  // Trusted only when it agrees with the name: files archived before pushes were checked may not be WAL at all.
  if (header && WAL_PAGE_MAGIC.has(header.magic) && header.segmentSize > 0 && startFromName(name, header.segmentSize) === header.pageAddress) return header.pageAddress;
  return startFromName(name, await archive.segmentSize());
}

function startFromName(name: string, segmentSize: number): bigint {
  return parseSegmentName(name.slice(0, 24), segmentSize)!.segment * BigInt(segmentSize);
}

/** The immediate parent and the branch point: the last entry of the file, as PostgreSQL's readTimeLineHistory reads it. */
function parseHistory(name: string, timeline: number, content: Buffer): { parent: number; branchLsn: bigint } {
  let last: { parent: number; branchLsn: bigint } | undefined;
  for (const raw of content.toString('utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(\s|$)/.exec(line);
    const parent = match ? Number(match[1]) : Number.NaN;
    if (!match || !Number.isSafeInteger(parent) || parent < 1 || parent >= timeline || (last !== undefined && parent <= last.parent)) {
      throw new PostgresBackupError('wal-invalid', `refusing to archive ${name}: line "${line.slice(0, 80)}" is not a timeline history entry PostgreSQL writes (parent timeline below ${timeline}, increasing, then the branch LSN, such as "1\\t0/3000060\\tno recovery target specified"). Nothing was stored; check that archive_command passes %p unchanged`, { items: [name] });
    }
    last = { parent, branchLsn: parseLsn(match[2]!) };
  }
  if (!last) throw new PostgresBackupError('wal-invalid', `refusing to archive ${name}: it has no timeline history entry (it is empty or only comments), which PostgreSQL never writes. Nothing was stored; check that archive_command passes %p unchanged`, { items: [name] });
  return last;
}

function historyName(timeline: number): string {
  return `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
}
