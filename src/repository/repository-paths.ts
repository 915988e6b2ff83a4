import { RepositoryError } from '../errors/repository-error.js';

/** Storage keys of the repository layout (docs/repository.md). */
export const repositoryPaths = {
  keyFile: (id: string) => `keys/${id}`,
  chunk: (id: string) => `chunks/${id.slice(0, 2)}/${id}`,
  manifest: (backupId: string) => `backups/${backupId}/manifest`,
  marker: (backupId: string) => `backups/${backupId}/complete`,
  wal: (name: string) => `wal/${walDirectory(name)}/${name}`,
};

const WAL_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,254}$/;

/** Checks a WAL file name (`000000010000000A000000FF`, `00000002.history`, `...00000028.backup`, `.partial`). */
export function assertWalName(name: string): void {
  if (!WAL_NAME.test(name)) {
    throw new RepositoryError('invalid-argument', `WAL file name ${JSON.stringify(name)} is invalid: pass the bare file name PostgreSQL gives (%f), without a directory`, { object: name });
  }
}

/** Segments group by timeline and log id (the first 16 hex digits), about 256 per directory; history files by timeline. */
function walDirectory(name: string): string {
  return /^[0-9A-F]{16}/.test(name) ? name.slice(0, 16) : name.slice(0, 8);
}

export const CHUNK_ID = /^[0-9a-f]{64}$/;
