import { restoreTargetSpec } from '../../../backup/describe-restore-target.js';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { RestoreRequest } from '../../../backup/backup-driver.js';
import type { RestoreResult } from '../../../backup/backup-types.js';
import { UsageError } from '../../../errors/index.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { parseRecoveryTime } from '../../../config/recovery-time.js';
import { copyKeys } from './copy-keys.js';
import { RedisBackupError } from './redis-backup-error.js';
import { replayStream } from './replay-stream.js';
import { describeTarget, restoreTargetOptions } from './restore-target.js';
import { startRedisServer, writeRedisConfig } from './scratch-redis-server.js';
import { RDB_FILE, redisFacts, type RedisBackupFacts } from './snapshot-redis.js';
import { coveredUntil, StreamLog, type StreamRun } from './stream-log.js';

/** Loading a large RDB and replaying a long stream take a while; still, every wait has a limit. */
const SERVER_TIMEOUT_MS = 10 * 60_000;
/** Where a restored server listens when no port is given: Redis's own default, as the printed command says. */
const DEFAULT_REDIS_PORT = 6379;

/** What a restore will do, decided from the repository before anything is written. */
interface RestorePlan {
  readonly base: BackupSummary;
  readonly facts: RedisBackupFacts;
  readonly run: StreamRun;
  readonly targetMs: number | undefined;
  /** Whether anything of the stream after the base is replayed. */
  readonly replay: boolean;
}

/**
 * Restores a Redis backup: the base snapshot (the newest consistent at or before the target), plus the captured
 * stream replayed up to the target time. Into a directory for a stopped instance (dump.rdb, optionally started on a
 * port), or into a live server (`options.target.url`) by DUMP/RESTORE of the matching keys from a scratch
 * redis-server that holds the restored data set. Refuses before writing anything what cannot work.
 */
export async function restoreRedis(request: RestoreRequest): Promise<RestoreResult> {
  const { repository, destination, database, options } = request;
  if (options.targetLsn !== undefined || options.targetName !== undefined) {
    throw new UsageError(options.targetLsn !== undefined ? (options.fields?.lsn ?? 'targetLsn') : (options.fields?.name ?? 'targetName'), 'does not apply to Redis (its stream has no LSNs or named points); give targetTime');
  }
  const plan = await planRestore(repository, database, request.backupId, options.targetTime === undefined ? undefined : parseRecoveryTime(options.targetTime, { timeZone: options.timeZone, field: options.fields?.time }).toDate().getTime());
  const report = (phase: 'planning' | 'writing' | 'starting' | 'done') => options.onProgress?.({ phase, filesTotal: 1, filesDone: phase === 'done' ? 1 : 0, bytesTotal: plan.base.sizeBytes, bytesDone: phase === 'done' ? plan.base.sizeBytes : 0 });
  report('planning');
  const live = options.target === undefined ? undefined : restoreTargetSpec(options.target);
  const to = resolvePath(options.to ?? join(destination, 'restores', `${database}-${new Date().toISOString().replace(/[:.]/g, '')}`));
  await claimDirectory(to);
  let started = false;
  try {
    options.signal?.throwIfAborted();
    report('writing');
    const manifest = await repository.manifest(plan.base.backupId);
    const entry = manifest.files.find((f) => f.path === RDB_FILE);
    if (!entry) throw new RedisBackupError('backup-not-found', `backup ${plan.base.backupId} holds no ${RDB_FILE}`);
    const patterned = options.keyPattern !== undefined;
    // The restored data set is built where the RDB lands; with a key pattern or a live target it is a scratch copy.
    const build = live !== undefined || patterned ? join(to, 'scratch') : to;
    await mkdir(build, { recursive: true, mode: 0o700 });
    await pipeline(repository.readFile(entry), createWriteStream(join(build, 'dump.rdb'), { mode: 0o600 }));
    let keys: number | undefined;
    if (plan.replay || live !== undefined || patterned) {
      report('starting');
      const scratch = await startRedisServer({ dir: build, timeoutMs: SERVER_TIMEOUT_MS });
      let saved = false;
      try {
        if (plan.replay) await replayStream({ repository, run: plan.run, baseOffset: plan.facts.offset, targetMs: plan.targetMs, socket: scratch.socket!, timeoutMs: SERVER_TIMEOUT_MS });
        options.signal?.throwIfAborted();
        if (live !== undefined) {
          keys = (await copyKeys({ source: { path: scratch.socket! }, target: restoreTargetOptions(live.url), pattern: options.keyPattern, replace: live.replace ?? false, signal: options.signal })).keys;
        } else if (patterned) {
          const filtered = await startRedisServer({ dir: to, timeoutMs: SERVER_TIMEOUT_MS });
          try {
            keys = (await copyKeys({ source: { path: scratch.socket! }, target: { path: filtered.socket! }, pattern: options.keyPattern, replace: false, signal: options.signal })).keys;
          } finally {
            await filtered.shutdown(true);
          }
        } else {
          await scratch.shutdown(true);
          saved = true;
        }
      } finally {
        if (!saved) await scratch.shutdown(false);
      }
      if (build !== to) await rm(build, { recursive: true, force: true });
    }
    const port = options.port ?? options.start?.port;
    if (live === undefined && options.start) {
      await startRedisServer({ dir: to, port: options.start.port, timeoutMs: SERVER_TIMEOUT_MS });
      started = true;
    } else if (live === undefined) {
      // The file the printed startCommand names (the scratch server's, if any, pointed at a socket that is gone).
      await writeRedisConfig(to, port ?? DEFAULT_REDIS_PORT);
    }
    if (live !== undefined) await rm(to, { recursive: true, force: true });
    report('done');
    return {
      backupId: plan.base.backupId,
      note: keys === undefined ? undefined : `${keys} key(s) restored${options.keyPattern ? ` matching ${JSON.stringify(options.keyPattern)}` : ''}${live ? ` into ${describeTarget(live.url)}` : ''}`,
      database,
      to: live !== undefined ? describeTarget(live.url) : to,
      timeline: 1,
      target: plan.targetMs === undefined ? undefined : new Date(plan.targetMs).toISOString(),
      started,
      walSegmentsChecked: plan.replay ? plan.run.segments.length : 0,
      recoverySettings: [],
      startCommand: live !== undefined ? '' : `redis-server ${join(to, 'redis.conf')}`,
    };
  } catch (error) {
    if (!options.keepFailed) await rm(to, { recursive: true, force: true });
    throw error;
  }
}

/** Picks the base backup and the stream run, and checks that the target can be reached. */
async function planRestore(repository: Repository, database: string, backupId: string | undefined, targetMs: number | undefined): Promise<RestorePlan> {
  const backups = (await repository.list()).filter((s) => s.database === database && redisFacts(s.metadata) !== undefined);
  if (backups.length === 0) throw new RedisBackupError('backup-not-found', `the repository holds no Redis backup of ${database}; run createBackup first`);
  let base: BackupSummary;
  if (backupId !== undefined) {
    const found = backups.find((b) => b.backupId === backupId);
    if (!found) throw new RedisBackupError('backup-not-found', `no Redis backup ${backupId} of ${database} (there are: ${backups.map((b) => b.backupId).join(', ')})`);
    base = found;
  } else if (targetMs === undefined) {
    base = backups.at(-1)!;
  } else {
    const before = backups.filter((b) => Date.parse(redisFacts(b.metadata)!.consistentAt) <= targetMs).at(-1);
    if (!before) throw new RedisBackupError('target-unreachable', `${new Date(targetMs).toISOString()} is before the oldest Redis backup of ${database} (${redisFacts(backups[0]!.metadata)!.consistentAt}); choose a later targetTime`);
    base = before;
  }
  const facts = redisFacts(base.metadata)!;
  const consistentMs = Date.parse(facts.consistentAt);
  if (targetMs !== undefined && targetMs < consistentMs) throw new RedisBackupError('target-unreachable', `${new Date(targetMs).toISOString()} is before backup ${base.backupId}'s snapshot (${facts.consistentAt}); choose a later targetTime or an older backup`);
  const run = (await StreamLog.load(repository)).run(facts.replid, facts.offset);
  if (targetMs !== undefined) {
    const covered = await coveredUntil(repository, run, consistentMs);
    if (targetMs > covered.time) {
      const hole = run.gapAt === undefined ? '' : ` (the captured stream has a hole at offset ${run.gapAt}: a capture was lost there)`;
      throw new RedisBackupError('target-unreachable', `${new Date(targetMs).toISOString()} is past the end of the captured stream after backup ${base.backupId}, which reaches ${new Date(covered.time).toISOString()}${hole}; choose an earlier targetTime, or keep the stream capture running`);
    }
  }
  return { base, facts, run, targetMs, replay: run.segments.length > 0 };
}

/** A restore goes into a new or empty directory only: never over a server's data. */
async function claimDirectory(to: string): Promise<void> {
  if (existsSync(to) && (await readdir(to)).length > 0) throw new RedisBackupError('unsafe-destination', `to "${to}" is not empty; give a new or empty directory`);
  await mkdir(to, { recursive: true, mode: 0o700 });
}

