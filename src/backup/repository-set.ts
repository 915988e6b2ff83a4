import { existsSync } from 'node:fs';
import { chown, readdir, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { ConfigurationError, UsageError } from '../errors/index.js';
import { initRepository, openRepository } from '../repository/index.js';
import { resolvePassphrase } from '../repository/passphrase.js';
import type { Repository } from '../repository/repository-types.js';
import { silentLogger, type Logger } from '../util/logger.js';

/** Used when `encryption: false`: objects stay authenticated, but the key is not secret (documented). */
const PUBLIC_PASSPHRASE = 'datakeep-unencrypted-repository';

export interface OpenedRepository {
  readonly path: string;
  /** The database whose repository this is (its directory's name under the destination). */
  readonly database: string;
  readonly repository: Repository;
}

/** Where backups go and how repositories are unlocked, as far as the backup configuration and the call say. */
export interface RepositorySettings {
  readonly destination: string | undefined;
  readonly passphraseFile: string | undefined;
  readonly encryption: boolean | undefined;
}

/**
 * The repositories under a backup destination (one per database, `DESTINATION/<database id>`): finding the
 * destination and the passphrase from the same sources for every command, opening, creating and closing them.
 */
export class RepositorySet {
  constructor(
    private readonly settings: () => RepositorySettings,
    /** Where the repositories log their open, init, completed backups and prunes. */
    private readonly logger: () => Logger = () => silentLogger,
    /** How messages name the destination and what fills it (backups; lifecycle archives). */
    private readonly words: { destination: string; missing: string; empty: string } = {
      destination: 'backup destination',
      missing: 'pass options.destination (--dest), or call createBackup/setupBackups first, or set "backups.destination" in the config file',
      empty: 'give the directory createBackup wrote to',
    },
  ) {}

  destination(given: string | undefined): string {
    const destination = given ?? this.settings().destination;
    if (!destination) throw new UsageError('destination', `no ${this.words.destination} known; ${this.words.missing}`);
    return resolvePath(destination);
  }

  /** The passphrase file from the call, else the backup configuration's. */
  passphraseFile(given: string | undefined): string | undefined {
    return given ?? this.settings().passphraseFile;
  }

  /**
   * The repository passphrase, from the same sources for every command: the call's passphraseFile, the backup
   * config's (the last createBackup/setupBackups, else the config file's "backups"), then DATAKEEP_REPO_PASSPHRASE
   * and DATAKEEP_REPO_PASSPHRASE_FILE. `encryption: false` uses the public passphrase.
   */
  async passphrase(given: { encryption?: boolean; passphraseFile?: string }): Promise<string> {
    const encryption = given.encryption ?? (this.settings().encryption === false ? false : true);
    if (!encryption) return PUBLIC_PASSPHRASE;
    const passphraseFile = this.passphraseFile(given.passphraseFile);
    try {
      return await resolvePassphrase({ passphraseFile: passphraseFile === undefined ? undefined : resolvePath(passphraseFile) });
    } catch (cause) {
      if (passphraseFile !== undefined) throw cause;
      throw new ConfigurationError('encryption', 'is on, but no repository passphrase was given', 'Set DATAKEEP_REPO_PASSPHRASE (or DATAKEEP_REPO_PASSPHRASE_FILE, or passphraseFile in the backup config, or --passphrase-file), or set encryption: false', { cause });
    }
  }

  /** Opens every repository under the destination; the caller closes them (`closeAll`), which stops their workers. */
  async openAll(destination: string, passphrase: string): Promise<OpenedRepository[]> {
    if (!existsSync(destination)) throw new UsageError('destination', `"${destination}" does not exist; ${this.words.empty}`);
    const out: OpenedRepository[] = [];
    try {
      for (const entry of (await readdir(destination, { withFileTypes: true })).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(destination, entry.name);
        if (existsSync(join(path, 'config'))) out.push({ path, database: entry.name, repository: await openRepository(path, { passphrase, logger: this.logger() }) });
      }
    } catch (error) {
      await closeAll(out);
      throw error;
    }
    return out;
  }

  /** Opens every repository, runs `fn`, and closes them whatever happened. */
  async withAll<T>(options: { destination?: string; passphraseFile?: string }, fn: (repos: OpenedRepository[], destination: string, passphrase: string) => Promise<T>): Promise<T> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase({ passphraseFile: options.passphraseFile });
    const repos = await this.openAll(destination, passphrase);
    try {
      return await fn(repos, destination, passphrase);
    } finally {
      await closeAll(repos);
    }
  }

  /** The repository of `path`, created (and given to `owner`, when datakeep runs as root) when it does not exist. */
  async openOrInit(path: string, passphrase: string, options: { workers: number | undefined; compression: boolean; owner: { uid: number; gid: number } | undefined }): Promise<Repository> {
    if (existsSync(join(path, 'config'))) return openRepository(path, { passphrase, workers: options.workers, logger: this.logger() });
    const repository = await initRepository(path, { passphrase, workers: options.workers, compression: options.compression ? 'zstd' : 'none', logger: this.logger() });
    // The server's archiver writes WAL into the repository as its own OS user: when datakeep runs as root, the new
    // repository belongs to that user, as pgBackRest's repository belongs to it.
    if (options.owner && process.getuid?.() === 0 && options.owner.uid !== 0) await chownTree(path, options.owner.uid, options.owner.gid);
    return repository;
  }

  /** The repository holding `backupId`, or the one of `database` (or the only one) when no id is given. */
  async find(repos: readonly OpenedRepository[], destination: string, backupId: string | undefined, database: string | undefined): Promise<OpenedRepository> {
    if (backupId !== undefined && backupId !== 'latest') {
      for (const r of repos) {
        if ((await r.repository.list()).some((s) => s.backupId === backupId)) return r;
      }
      throw new UsageError('backupId', `no completed backup "${backupId}" in ${destination}; see listBackups() / datakeep backup list`);
    }
    const candidates = [];
    for (const r of repos) {
      if (database !== undefined && database !== r.database) continue;
      if ((await r.repository.list()).length > 0) candidates.push(r);
    }
    if (candidates.length === 0) throw new UsageError(database ? 'database' : 'backupId', `no completed backup${database ? ` of ${database}` : ''} in ${destination}`);
    if (candidates.length > 1) throw new UsageError('database', `backups of several databases are in ${destination} (${candidates.map((c) => c.database).join(', ')}); say which with options.database (--database)`);
    return candidates[0]!;
  }
}

export async function closeAll(repos: readonly OpenedRepository[]): Promise<void> {
  await Promise.all(repos.map((r) => r.repository.close?.()));
}

/** Gives a directory tree to `uid:gid`. */
export async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if ((await stat(path)).isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
  }
}
