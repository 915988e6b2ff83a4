import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { LifecycleError } from '../errors/index.js';
import { processAlive } from './process-alive.js';

/**
 * An exclusive, crash-safe claim on a directory by one process: `PATH.lock` holds `pid@host`. A lock left by a process
 * that no longer exists on this host is taken over; a live holder is named in the error. PGlite directories need it:
 * two processes opening one data directory would corrupt it.
 */
/** Lock files held by this process, so that two openers inside one process are refused too. */
const heldHere = new Set<string>();

export class ProcessDirLock {
  readonly #path: string;
  #held = false;

  constructor(dir: string) {
    this.#path = `${dir}.lock`;
  }

  acquire(): void {
    mkdirSync(dirname(this.#path), { recursive: true });
    const me = `${process.pid}@${hostname()}`;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const fd = openSync(this.#path, 'wx');
        writeSync(fd, me);
        closeSync(fd);
        this.#held = true;
        heldHere.add(this.#path);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = readHolder(this.#path);
        // Our own pid is a live holder only if this process really holds it; otherwise it is a previous incarnation
        // with the same pid (a restarted container's pid 1).
        const live = holder !== undefined && (holder.pid === process.pid ? heldHere.has(this.#path) : processAlive(holder.pid));
        if (holder && holder.host === hostname() && live) {
          throw new LifecycleError(
            `${this.#path.slice(0, -5)} is in use by process ${holder.pid} on this host; an embedded database belongs to one process at a time. ` +
              'Stop that process, or share a PostgreSQL database instead (state.url / a postgresql database)',
          );
        }
        if (holder && holder.host !== hostname()) {
          throw new LifecycleError(`${this.#path.slice(0, -5)} is locked by process ${holder.pid} on host ${holder.host}; remove ${this.#path} only if that process is gone`);
        }
        // Stale (dead process, or this very pid after a crash-restart): take it over.
        rmSync(this.#path, { force: true });
      }
    }
    throw new LifecycleError(`could not lock ${this.#path}`);
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    heldHere.delete(this.#path);
    rmSync(this.#path, { force: true });
  }
}

function readHolder(path: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = readFileSync(path, 'utf8').trim().split('@');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && host ? { pid: n, host } : undefined;
  } catch {
    return undefined;
  }
}
