import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { DataLifecycleError } from '../errors/index.js';
import type { BackupSummary, Repository } from '../repository/repository-types.js';
import type { LifecycleRow, TargetInspection } from './lifecycle-part.js';

/** Marks a repository entry as a lifecycle archive (a backup repository holds only these when used for archives). */
export const ARCHIVE_KIND = 'lifecycle-archive';

/** What an archive's manifest says about it (and what `datakeep archive list|show` prints). */
export interface ArchiveSummary {
  readonly archiveId: string;
  readonly policy: string;
  readonly database: string;
  readonly engine: string;
  /** The table, collection or key pattern the rows came from. */
  readonly target: string;
  readonly rows: number;
  readonly firstKey: readonly unknown[] | undefined;
  readonly lastKey: readonly unknown[] | undefined;
  /** SHA-256 of the archive's lines, checked when it is written and when it is read back. */
  readonly sha256: string;
  readonly key: readonly string[];
  readonly schema: TargetInspection['schema'];
  readonly createdAt: string;
  readonly storedBytes: number;
}

/** One archived row as stored: its key and its record (the engine's exact text), one JSON object per line. */
interface ArchiveLine {
  readonly k: readonly unknown[];
  readonly r: string;
}

const FILE = 'rows.ndjson';

/**
 * Writes a batch of rows as one archive into the repository (compressed, encrypted, content-addressed like backups),
 * reads it back to check the row count and hash, and only then returns: the caller deletes the rows after this.
 */
export async function writeArchive(repository: Repository, input: { policy: string; database: string; engine: string; inspection: TargetInspection; rows: readonly LifecycleRow[] }): Promise<ArchiveSummary> {
  const lines = input.rows.map((row) => `${JSON.stringify({ k: row.key, r: row.record } satisfies ArchiveLine)}\n`);
  const content = Buffer.from(lines.join(''), 'utf8');
  const sha256 = createHash('sha256').update(content).digest('hex');
  const writer = await repository.beginBackup({ type: 'full', database: input.database });
  let manifest;
  try {
    await writer.addFile(FILE, Readable.from([content]), { size: content.length, mtimeMs: Date.now(), mode: 0o600 });
    writer.setMetadata({
      kind: ARCHIVE_KIND, engine: input.engine, policy: input.policy, target: input.inspection.target, rows: input.rows.length,
      firstKey: input.rows[0]?.key, lastKey: input.rows.at(-1)?.key, sha256, key: input.inspection.key, schema: input.inspection.schema,
    });
    manifest = await writer.complete();
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
  const summary = toSummary({ backupId: manifest.backupId, database: manifest.database, startedAt: manifest.startedAt, storedBytes: manifest.storedBytes, metadata: manifest.metadata } as BackupSummary);
  // Verified by reading it back through the repository (every chunk authenticated) before any row is deleted.
  let count = 0;
  const hash = createHash('sha256');
  for await (const line of readArchiveLines(repository, summary.archiveId)) {
    hash.update(`${JSON.stringify(line)}\n`);
    count += 1;
  }
  if (count !== input.rows.length || hash.digest('hex') !== sha256) {
    throw new DataLifecycleError('archive-mismatch', input.policy, `archive ${summary.archiveId} read back ${count} of ${input.rows.length} rows or a different hash; nothing was deleted`);
  }
  return summary;
}

/** Every line of an archive, streamed (an archive of a whole partition is never held in memory). */
export async function* readArchiveLines(repository: Repository, archiveId: string): AsyncGenerator<ArchiveLine> {
  const manifest = await repository.manifest(archiveId);
  for (const entry of manifest.files) {
    const lines = createInterface({ input: repository.readFile(entry), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line !== '') yield JSON.parse(line) as ArchiveLine;
    }
  }
}

/** The archives in a repository, oldest first. */
export async function listArchives(repository: Repository): Promise<ArchiveSummary[]> {
  return (await repository.list()).filter((s) => s.metadata.kind === ARCHIVE_KIND).map(toSummary);
}

function toSummary(s: BackupSummary): ArchiveSummary {
  const m = s.metadata;
  return {
    archiveId: s.backupId,
    policy: String(m.policy),
    database: s.database,
    engine: String(m.engine),
    target: String(m.target),
    rows: Number(m.rows),
    firstKey: m.firstKey as unknown[] | undefined,
    lastKey: m.lastKey as unknown[] | undefined,
    sha256: String(m.sha256),
    key: (m.key as string[] | undefined) ?? [],
    schema: (m.schema as TargetInspection['schema'] | undefined) ?? [],
    createdAt: s.startedAt,
    storedBytes: s.storedBytes,
  };
}
