import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { formatLsn, parseLsn, segmentName } from './wal-position.js';

const execFileAsync = promisify(execFile);

/** A WAL record that can end a point-in-time recovery: a transaction's commit or abort, or a named restore point. */
export interface WalStopRecord {
  readonly kind: 'commit' | 'abort' | 'restore-point';
  /** Where the record starts (the position a recovery_target_lsn or _name stops at). */
  readonly lsn: bigint;
  /** Commit or abort time, microseconds since the Unix epoch (what recovery_target_time compares with). */
  readonly timeMicros?: bigint;
  readonly name?: string;
}

export interface WalRecordReader {
  /** The stop records of one archived segment, in order; a record that starts in it and ends in the next is included. */
  segment(timeline: number, segment: bigint): Promise<WalStopRecord[]>;
  /** Where the first record at or after `lsn` starts, within its segment and the next; undefined when there is none. */
  firstRecordFrom(timeline: number, lsn: bigint): Promise<bigint | undefined>;
  close(): Promise<void>;
}

/**
 * Reads archived WAL with PostgreSQL's own decoder, pg_waldump, so that datakeep knows which commits, aborts and
 * restore points the archive holds (and when) before it writes a restore: a target that no record in the archive can
 * reach is refused up front instead of failing at the end of recovery. Segments are decrypted one pair at a time into
 * a private temporary directory (the next one too, for a record that crosses the boundary).
 */
export async function openWalRecordReader(repository: Repository, options: { segmentSize: number; serverMajor: number; pgWaldump?: string; timeoutMs?: number }): Promise<WalRecordReader> {
  const binary = options.pgWaldump ?? waldumpFor(options.serverMajor);
  const work = await mkdtemp(join(tmpdir(), 'datakeep-waldump-'));
  const timeoutMs = options.timeoutMs ?? 120_000;
  return {
    async segment(timeline, segment) {
      const name = segmentName(timeline, segment, options.segmentSize);
      const next = segmentName(timeline, segment + 1n, options.segmentSize);
      const content = (await repository.getWal(name)) ?? (await repository.getWal(`${name}.stream`));
      if (content === undefined) return [];
      await writeFile(join(work, name), content, { mode: 0o600 });
      const following = await repository.getWal(next).catch(() => undefined);
      if (following !== undefined) await writeFile(join(work, next), following, { mode: 0o600 });
      const start = segment * BigInt(options.segmentSize);
      const end = start + BigInt(options.segmentSize);
      try {
        const { stdout } = await execFileAsync(binary, ['-p', work, '-t', String(timeline), '-s', formatLsn(start), '-e', formatLsn(end), '-r', 'Transaction', '-r', 'XLOG'], {
          env: { ...process.env, TZ: 'UTC' }, maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs,
        }).catch((error: { stdout?: string; stderr?: string; killed?: boolean }) => {
          // pg_waldump exits 1 at the end of the readable WAL (the next segment missing, or a partial last record):
          // what it printed before that is complete and correct.
          if (error.killed) throw new PostgresBackupError('backup-failed', `pg_waldump did not finish reading ${name} within ${timeoutMs} ms`, { cause: error });
          return { stdout: error.stdout ?? '' };
        });
        return parseWaldump(stdout);
      } finally {
        await rm(join(work, name), { force: true });
        await rm(join(work, next), { force: true });
      }
    },
    async firstRecordFrom(timeline, lsn) {
      const segment = lsn / BigInt(options.segmentSize);
      const names = [segmentName(timeline, segment, options.segmentSize), segmentName(timeline, segment + 1n, options.segmentSize)];
      const written: string[] = [];
      try {
        for (const name of names) {
          const content = (await repository.getWal(name).catch(() => undefined)) ?? (await repository.getWal(`${name}.stream`).catch(() => undefined));
          if (content === undefined) break;
          await writeFile(join(work, name), content, { mode: 0o600 });
          written.push(name);
        }
        if (written.length === 0) return undefined;
        const { stdout } = await execFileAsync(binary, ['-p', work, '-t', String(timeline), '-s', formatLsn(lsn), '-n', '1'], { env: { ...process.env, TZ: 'UTC' }, timeout: timeoutMs })
          .catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
        const found = /lsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(stdout);
        return found ? parseLsn(found[1]!) : undefined;
      } finally {
        for (const name of written) await rm(join(work, name), { force: true });
      }
    },
    async close() {
      await rm(work, { recursive: true, force: true });
    },
  };
}

const RECORD = /lsn: ([0-9A-F]+\/[0-9A-F]+), prev [^,]*, desc: (COMMIT|ABORT|COMMIT_PREPARED|ABORT_PREPARED|RESTORE_POINT) ?(.*)$/;
const TIME = /^(?:\d+: )?(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? UTC/;

/** The stop records in pg_waldump's text output (run with TZ=UTC, so every time ends in " UTC"). */
export function parseWaldump(text: string): WalStopRecord[] {
  const out: WalStopRecord[] = [];
  for (const line of text.split('\n')) {
    const match = RECORD.exec(line);
    if (!match) continue;
    const lsn = parseLsn(match[1]!);
    const what = match[2]!;
    if (what === 'RESTORE_POINT') {
      out.push({ kind: 'restore-point', lsn, name: match[3]! });
      continue;
    }
    const time = TIME.exec(match[3]!);
    if (!time) continue;
    const [, y, mo, d, h, mi, s, fraction] = time;
    const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const micros = BigInt(ms) * 1000n + BigInt((fraction ?? '').padEnd(6, '0') || '0');
    out.push({ kind: what.startsWith('COMMIT') ? 'commit' : 'abort', lsn, timeMicros: micros });
  }
  return out;
}

/** pg_waldump of the backed-up server's major version (Debian's layout), else the one on PATH. */
export function waldumpFor(major: number): string {
  const path = `/usr/lib/postgresql/${major}/bin/pg_waldump`;
  return existsSync(path) ? path : 'pg_waldump';
}
