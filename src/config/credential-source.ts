import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve as resolvePath } from 'node:path';

/**
 * What a credential source tells its subscribers. The password itself is never in an event: a subscriber that needs
 * it reads `current()`, so that an event logged whole, or an error built from one, cannot carry the secret.
 */
export type CredentialEvent =
  /** The password changed: new connections must use `current()`, and connections made with the old one be replaced. */
  | { readonly kind: 'changed'; readonly source: string }
  /** The file could not be used (unreadable, empty): the previous password stays in use. `reason` is an errno code or "empty". */
  | { readonly kind: 'unusable'; readonly source: string; readonly reason: string };

export type CredentialListener = (event: CredentialEvent) => void;

/**
 * Where a database's password comes from now. Adapters read `current()` whenever they open a connection and subscribe
 * with `onChange` while they are connected; a source that cannot change (a password given in the configuration, from
 * `${ENV}` or a URL) never calls its listeners.
 */
export interface CredentialSource {
  /** Names the source in logs without its value: "configuration" or "passwordFile /run/secrets/db". */
  readonly description: string;
  current(): string | undefined;
  /** Subscribes; the returned function unsubscribes. A file is watched only while someone subscribes. */
  onChange(listener: CredentialListener): () => void;
}

/** A password that does not change (given in the configuration, after `${ENV}` expansion, or in a URL). */
export function staticCredentials(password: string | undefined): CredentialSource {
  return Object.freeze({
    description: 'configuration',
    current: () => password,
    onChange: () => () => undefined,
  });
}

export interface FileCredentialOptions {
  /** Bound between two checks of the file's content when no file-system event arrives (default 2000 ms). */
  pollIntervalMs?: number;
  /** Wait after a file-system event before reading, so that a write in several steps is read once complete (default 100 ms). */
  settleMs?: number;
  /** Use file-system events besides the poll (default true; false leaves the poll alone, as on a file system without events). */
  watch?: boolean;
}

/** A trailing newline is not part of the password (`echo secret > file` writes one). */
export function passwordFromFileText(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * A password read from a file (a mounted secret) and reread when the file changes. The first value is read when the
 * configuration is loaded (so that a bad path fails there); while anyone subscribes, the file is watched:
 * - `fs.watch` on the file's directory, which also sees an editor or Kubernetes replacing the file by a rename (a
 *   watch on the file itself would stay on the old inode and see nothing more);
 * - a poll of the content every `pollIntervalMs`, for file systems whose events do not arrive (NFS, some container
 *   mounts) and for a watch that failed or could not be made (inotify limits). The content is compared, not mtime:
 *   a swapped symlink keeps the link's mtime.
 * A file that becomes unreadable or empty keeps the previous password and tells the subscribers once, by errno code.
 */
export class FileCredentialSource implements CredentialSource {
  readonly path: string;
  readonly description: string;
  #password: string;
  readonly #listeners = new Set<CredentialListener>();
  readonly #pollIntervalMs: number;
  readonly #settleMs: number;
  readonly #useWatch: boolean;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #settle: NodeJS.Timeout | undefined;
  #checking: Promise<boolean> | undefined;
  #again = false;
  /** The reason last reported as unusable, so that a file that stays unreadable is reported once, not every poll. */
  #unusable: string | undefined;

  constructor(path: string, initial: string, options: FileCredentialOptions = {}) {
    this.path = resolvePath(path);
    this.description = `passwordFile ${this.path}`;
    this.#password = initial;
    this.#pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.#settleMs = options.settleMs ?? 100;
    this.#useWatch = options.watch ?? true;
  }

  current(): string {
    return this.#password;
  }

  onChange(listener: CredentialListener): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      if (!this.#listeners.delete(listener)) return;
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** Whether the file is being watched (someone subscribes). */
  get watching(): boolean {
    return this.#poll !== undefined;
  }

  /**
   * Reads the file now and reports a change; resolves whether the password changed. Concurrent calls share one read,
   * and a call during a read causes one more read after it (the file may have changed after the first read began).
   */
  check(): Promise<boolean> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    const run = async (): Promise<boolean> => {
      let changed = false;
      do {
        this.#again = false;
        changed = (await this.#readOnce()) || changed;
      } while (this.#again);
      return changed;
    };
    this.#checking = run().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #readOnce(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (cause) {
      this.#reportUnusable((cause as NodeJS.ErrnoException).code ?? 'unreadable');
      return false;
    }
    const password = passwordFromFileText(text);
    if (password === '') {
      // Truncated before being rewritten, or emptied by mistake: an empty password would lock every new connection out.
      this.#reportUnusable('empty');
      return false;
    }
    this.#unusable = undefined;
    if (password === this.#password) return false;
    this.#password = password;
    this.#emit({ kind: 'changed', source: this.description });
    return true;
  }

  #reportUnusable(reason: string): void {
    if (this.#unusable === reason) return;
    this.#unusable = reason;
    this.#emit({ kind: 'unusable', source: this.description, reason });
  }

  #emit(event: CredentialEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A subscriber's failure is its own; the others still hear of the change.
      }
    }
  }

  #start(): void {
    // The file may have changed between loading the configuration and the first subscription.
    void this.check();
    this.#poll = setInterval(() => void this.check(), this.#pollIntervalMs);
    this.#poll.unref();
    if (!this.#useWatch) return;
    try {
      const name = basename(this.path);
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Kubernetes swaps a `..data` symlink, so an event naming another file can change this one too; only events
        // that name nothing useful are rare enough to check as well.
        if (file !== null && file !== name && !String(file).startsWith('..')) return;
        this.#scheduleCheck();
      });
      this.#watcher.on('error', () => this.#closeWatcher());
    } catch {
      // No watch (inotify limit, a file system without events): the poll alone bounds how late a change is seen.
      this.#watcher = undefined;
    }
  }

  #scheduleCheck(): void {
    if (this.#settle) return;
    this.#settle = setTimeout(() => {
      this.#settle = undefined;
      void this.check();
    }, this.#settleMs);
    this.#settle.unref();
  }

  #closeWatcher(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #stop(): void {
    clearInterval(this.#poll);
    clearTimeout(this.#settle);
    this.#poll = undefined;
    this.#settle = undefined;
    this.#closeWatcher();
  }
}
