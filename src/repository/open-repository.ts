import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { MAX_WORKERS } from '../config/worker-limit.js';
import { RepositoryError } from '../errors/repository-error.js';
import { logOperation } from '../util/log-operation.js';
import { redactingLogger, silentLogger, type Logger } from '../util/logger.js';
import { BackupRepository } from './backup-repository.js';
import { ChunkWork } from './chunk-work.js';
import { compressionLevelProblem, DEFAULT_LEVELS } from './compression-codec.js';
import { chunkSizesProblem, DEFAULT_CHUNK_SIZES } from './content-defined-chunker.js';
import { FilesystemStorage } from './filesystem-storage.js';
import { parseKeyFile, unwrapMasterKey, wrapMasterKey } from './key-file.js';
import { CONFIG_KEY, REPOSITORY_FORMAT_VERSION, type RepositoryConfig } from './repository-config.js';
import { deriveRepositoryKeys } from './repository-keys.js';
import type { LockTimings } from './repository-locks.js';
import { repositoryPaths } from './repository-paths.js';
import type { CompressionType, RepositoryInitOptions, RepositoryOpenOptions, RepositoryStorage } from './repository-types.js';

/** Options beyond the contract's: lock timings (tests and slow shared filesystems). */
export interface RepositoryExtraOptions {
  readonly lockTimings?: Partial<LockTimings>;
  /** Where open, init, completed backups and prunes are logged; silent by default (`wal push` opens one per segment). */
  readonly logger?: Logger;
}

const COMPRESSIONS: readonly CompressionType[] = ['zstd', 'gzip', 'none'];

/** Creates a repository: a random master key, wrapped by the passphrase (keys/<id>), then the config object. The
 * config is written last, so a crash during init leaves a directory that open() reports as not a repository. */
export async function initRepository(location: string | RepositoryStorage, options: RepositoryInitOptions & RepositoryExtraOptions): Promise<BackupRepository> {
  const logger = loggerOf(options);
  return logOperation(logger, 'repository.init', { repository: describeLocation(location) }, () => init(location, options, logger), { result: repositoryFields });
}

async function init(location: string | RepositoryStorage, options: RepositoryInitOptions & RepositoryExtraOptions, logger: Logger): Promise<BackupRepository> {
  const passphrase = checkPassphrase(options);
  const compression = options.compression ?? 'zstd';
  if (!COMPRESSIONS.includes(compression)) throw invalid(`compression must be one of ${COMPRESSIONS.join(', ')} (got ${JSON.stringify(compression)})`);
  const compressionLevel = options.compressionLevel ?? DEFAULT_LEVELS[compression];
  const levelProblem = compression === 'none' ? undefined : compressionLevelProblem(compression, compressionLevel);
  if (levelProblem !== undefined) throw invalid(levelProblem);
  const chunking = options.chunkSize ?? DEFAULT_CHUNK_SIZES;
  const chunkProblem = chunkSizesProblem(chunking);
  if (chunkProblem !== undefined) throw invalid(chunkProblem);
  const workers = checkWorkers(options);

  const storage = toStorage(location);
  if (await storage.exists(CONFIG_KEY)) {
    throw new RepositoryError('already-exists', `${storage.description} already holds a datakeep repository; open it instead, or choose an empty location`, { object: CONFIG_KEY });
  }
  const masterKey = randomBytes(32);
  const keyFile = await wrapMasterKey(masterKey, passphrase);
  await storage.put(repositoryPaths.keyFile(randomBytes(8).toString('hex')), Buffer.from(JSON.stringify(keyFile, null, 2)));
  const config: RepositoryConfig = Object.freeze({
    formatVersion: REPOSITORY_FORMAT_VERSION,
    repositoryId: randomBytes(16).toString('hex'),
    createdAt: new Date().toISOString(),
    compression,
    compressionLevel,
    chunking: Object.freeze({ average: chunking.average, min: chunking.min, max: chunking.max }),
  });
  const keys = deriveRepositoryKeys(masterKey);
  const work = new ChunkWork({ encryptionKey: keys.encryption, chunkIdKey: keys.chunkId, compression: 'none', compressionLevel: 0 });
  await storage.put(CONFIG_KEY, work.encode(CONFIG_KEY, Buffer.from(JSON.stringify(config))));
  return new BackupRepository(storage, config, masterKey, keys, { workers, lockTimings: options.lockTimings, logger });
}

/** Opens a repository with only its location and a passphrase (everything else is read from the repository). */
export async function openRepository(location: string | RepositoryStorage, options: RepositoryOpenOptions & RepositoryExtraOptions): Promise<BackupRepository> {
  const logger = loggerOf(options);
  return logOperation(logger, 'repository.open', { repository: describeLocation(location) }, () => open(location, options, logger), { result: repositoryFields });
}

async function open(location: string | RepositoryStorage, options: RepositoryOpenOptions & RepositoryExtraOptions, logger: Logger): Promise<BackupRepository> {
  const passphrase = checkPassphrase(options);
  const workers = checkWorkers(options);
  const storage = toStorage(location);
  const keyKeys: string[] = [];
  for await (const key of storage.list('keys/')) keyKeys.push(key);
  if (keyKeys.length === 0 || !(await storage.exists(CONFIG_KEY))) {
    throw new RepositoryError('not-a-repository', `${storage.description} is not a datakeep repository (no config or key files); check the path, or create it: the first datakeep backup create into its destination does (initRepository in code)`);
  }
  let masterKey: Buffer | undefined;
  for (const key of keyKeys.sort()) {
    const file = parseKeyFile((await storage.get(key)).toString('utf8'));
    if (file !== undefined) masterKey = await unwrapMasterKey(file, passphrase);
    if (masterKey !== undefined) break;
  }
  if (masterKey === undefined) {
    throw new RepositoryError('wrong-passphrase', `the passphrase does not unlock ${storage.description} (tried ${keyKeys.length} key file(s)); check the environment variable or key file that supplies it`);
  }
  const keys = deriveRepositoryKeys(masterKey);
  const work = new ChunkWork({ encryptionKey: keys.encryption, chunkIdKey: keys.chunkId, compression: 'none', compressionLevel: 0 });
  const config = JSON.parse(work.decode(CONFIG_KEY, await storage.get(CONFIG_KEY)).toString('utf8')) as RepositoryConfig;
  if (config.formatVersion !== REPOSITORY_FORMAT_VERSION) {
    throw new RepositoryError('unsupported-format', `${storage.description} has repository format ${config.formatVersion}; this datakeep reads format ${REPOSITORY_FORMAT_VERSION}: upgrade datakeep`);
  }
  return new BackupRepository(storage, Object.freeze(config), masterKey, keys, { workers, lockTimings: options.lockTimings, logger });
}

function loggerOf(options: RepositoryExtraOptions | undefined): Logger {
  return options?.logger ? redactingLogger(options.logger) : silentLogger;
}

function describeLocation(location: string | RepositoryStorage): string {
  return typeof location === 'string' ? location : location?.description;
}

function repositoryFields(repository: BackupRepository): Record<string, unknown> {
  return { repositoryId: repository.config.repositoryId, compression: repository.config.compression };
}

function toStorage(location: string | RepositoryStorage): RepositoryStorage {
  if (typeof location === 'string') {
    if (location === '') throw invalid('repository path must be a non-empty directory path');
    return new FilesystemStorage(location);
  }
  return location;
}

function checkPassphrase(options: RepositoryOpenOptions): string {
  const passphrase = options?.passphrase;
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw invalid('passphrase is required: pass it from an environment variable or a key file (it is never stored in the repository)');
  }
  return passphrase;
}

function checkWorkers(options: RepositoryOpenOptions): number {
  const workers = options.workers ?? Math.min(MAX_WORKERS, availableParallelism());
  if (!Number.isInteger(workers) || workers < 0 || workers > MAX_WORKERS) throw invalid(`workers must be an integer from 0 (inline) to ${MAX_WORKERS} (got ${workers})`);
  return workers;
}

function invalid(message: string): RepositoryError {
  return new RepositoryError('invalid-argument', message);
}
