import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, opendir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { RepositoryStorage } from './repository-types.js';

/** Temporary files carry this prefix so listings skip them and prune can recognise leftovers of a crash. */
export const TEMP_PREFIX = '.tmp-';

/**
 * Repository objects as files under a root directory. Writes go to a temporary file that is fsynced and then renamed
 * (put) or hard-linked (putIfAbsent: link(2) never overwrites, so the first writer wins even across processes).
 * Directory entries become durable at `sync()` (or at once for `put`, used for the few objects whose visibility
 * matters: config, keys, manifests, markers).
 */
export class FilesystemStorage implements RepositoryStorage {
  readonly description: string;
  readonly #root: string;
  /** Directories whose entries changed since the last sync. */
  readonly #dirty = new Set<string>();
  readonly #madeDirs = new Set<string>();

  constructor(root: string) {
    this.#root = root;
    this.description = `filesystem ${root}`;
  }

  get root(): string {
    return this.#root;
  }

  async put(key: string, data: Buffer): Promise<void> {
    const path = this.#path(key);
    const temp = await this.#writeTemp(path, data);
    try {
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await fsyncDir(dirname(path));
  }

  async putIfAbsent(key: string, data: Buffer): Promise<boolean> {
    const path = this.#path(key);
    const temp = await this.#writeTemp(path, data);
    try {
      await link(temp, path);
      this.#dirty.add(dirname(path));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Buffer> {
    return readFile(this.#path(key));
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.#path(key));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Size in bytes of a stored object (used for honest accounting by prune). */
  async size(key: string): Promise<number> {
    return (await stat(this.#path(key))).size;
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    await rm(path, { force: true, recursive: false });
    this.#dirty.add(dirname(path));
  }

  async *list(prefix: string): AsyncIterable<string> {
    const start = prefix === '' ? this.#root : this.#path(prefix.replace(/\/+$/, ''));
    yield* this.#walk(start);
  }

  async sync(): Promise<void> {
    const dirs = [...this.#dirty];
    this.#dirty.clear();
    await Promise.all(dirs.map((dir) => fsyncDir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    })));
  }

  /** Leftover temporary files (a writer crashed between write and rename): prune removes them under the exclusive lock. */
  async *listTemporary(): AsyncIterable<string> {
    yield* this.#walk(this.#root, true);
  }

  async *#walk(dir: string, temporaries = false): AsyncIterable<string> {
    let handle;
    try {
      handle = await opendir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code === 'ENOTDIR') {
        if (!temporaries) yield this.#key(dir);
        return;
      }
      throw error;
    }
    for await (const entry of handle) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) yield* this.#walk(path, temporaries);
      else if (entry.name.startsWith(TEMP_PREFIX) === temporaries) yield this.#key(path);
    }
  }

  async #writeTemp(path: string, data: Buffer): Promise<string> {
    const dir = dirname(path);
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
      // A new directory's own entry lives in its parent: make that durable too at the next sync.
      this.#dirty.add(dirname(dir));
    }
    const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    const handle = await open(temp, flags, 0o600).catch(async (error: NodeJS.ErrnoException) => {
      // Another process (prune) may have removed the directory since we created it.
      if (error.code !== 'ENOENT') throw error;
      await mkdir(dir, { recursive: true });
      return open(temp, flags, 0o600);
    });
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await handle.close();
    return temp;
  }

  #path(key: string): string {
    if (key === '' || key.startsWith('/') || key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
      throw new TypeError(`storage key ${JSON.stringify(key)} is invalid: use a relative path of non-empty segments without . or ..`);
    }
    return join(this.#root, ...key.split('/'));
  }

  #key(path: string): string {
    return path.slice(this.#root.length + 1).split(sep).join('/');
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
