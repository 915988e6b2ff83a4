import { createHash, timingSafeEqual } from 'node:crypto';
import { RepositoryError } from '../errors/repository-error.js';
import type { ChunkWork } from './chunk-work.js';
import { assertWalName, repositoryPaths } from './repository-paths.js';
import type { RepositoryStorage } from './repository-types.js';

const SHA_LENGTH = 32;

/**
 * WAL files as whole objects under `wal/<timeline+log>/<name>`. The encrypted plaintext is SHA-256(content) || content,
 * so a second push of the same name is compared by hash, and a read is checked end to end after decompression.
 * First writer wins (putIfAbsent): two concurrent pushes of one segment cannot overwrite each other.
 */
export class WalArchive {
  readonly #storage: RepositoryStorage;
  readonly #work: ChunkWork;

  constructor(storage: RepositoryStorage, work: ChunkWork) {
    this.#storage = storage;
    this.#work = work;
  }

  async put(name: string, content: Buffer): Promise<'stored' | 'already-present'> {
    assertWalName(name);
    const key = repositoryPaths.wal(name);
    const digest = createHash('sha256').update(content).digest();
    const encoded = this.#work.encode(key, Buffer.concat([digest, content]));
    if (await this.#storage.putIfAbsent(key, encoded)) {
      // archive_command's success tells PostgreSQL it may recycle the segment: the entry must be durable first.
      await this.#storage.sync();
      return 'stored';
    }
    const existing = await this.#read(name, key);
    if (existing === undefined) throw new RepositoryError('missing-object', `WAL ${name} vanished while being compared; push it again`, { object: name });
    if (timingSafeEqual(existing.digest, digest)) return 'already-present';
    throw new RepositoryError('wal-conflict', `WAL ${name} is already archived with different content (archived sha256 ${existing.digest.toString('hex')}, pushed sha256 ${digest.toString('hex')}): two clusters may be archiving into one repository, or a timeline was reused; check archive_command and the repository path before archiving again`, { object: name });
  }

  /**
   * Stores or replaces a snapshot of a segment still being written (`<segment>.stream`, from continuous streaming).
   * Unlike every other WAL object it is meant to be overwritten: each snapshot holds more of the same segment, and
   * the complete segment pushed by archive_command supersedes it.
   */
  async putSnapshot(name: string, content: Buffer): Promise<void> {
    if (!/^[0-9A-F]{24}\.stream$/.test(name)) throw new RepositoryError('invalid-argument', `WAL snapshot name ${JSON.stringify(name)} must be <segment>.stream`, { object: name });
    const key = repositoryPaths.wal(name);
    const digest = createHash('sha256').update(content).digest();
    await this.#storage.put(key, this.#work.encode(key, Buffer.concat([digest, content])));
    await this.#storage.sync();
  }

  async get(name: string): Promise<Buffer | undefined> {
    assertWalName(name);
    return (await this.#read(name, repositoryPaths.wal(name)))?.content;
  }

  async list(): Promise<string[]> {
    const names: string[] = [];
    for await (const key of this.#storage.list('wal/')) names.push(key.slice(key.lastIndexOf('/') + 1));
    return names.sort();
  }

  async delete(names: readonly string[]): Promise<void> {
    for (const name of names) {
      assertWalName(name);
      await this.#storage.delete(repositoryPaths.wal(name));
    }
    await this.#storage.sync();
  }

  async #read(name: string, key: string): Promise<{ digest: Buffer; content: Buffer } | undefined> {
    let stored: Buffer;
    try {
      stored = await this.#storage.get(key);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const plaintext = this.#work.decode(key, stored);
    const digest = plaintext.subarray(0, SHA_LENGTH);
    const content = plaintext.subarray(SHA_LENGTH);
    if (plaintext.length < SHA_LENGTH || !createHash('sha256').update(content).digest().equals(digest)) {
      throw new RepositoryError('corrupt-object', `WAL ${name} decrypts but its content does not match its recorded SHA-256`, { object: name });
    }
    return { digest, content };
  }
}
