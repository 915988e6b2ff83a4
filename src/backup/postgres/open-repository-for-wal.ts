import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors/index.js';
import { openRepository } from '../../repository/index.js';
import type { Repository } from '../../repository/repository-types.js';

export interface WalRepositoryAccess {
  /** The repository directory. Default: env DATAKEEP_REPO. */
  repositoryPath?: string;
  /** A file holding the passphrase (first line). Default: env DATAKEEP_REPO_PASSPHRASE_FILE. */
  passphraseFile?: string;
  /** Default: env DATAKEEP_REPO_PASSPHRASE (wins over the file when both are set). */
  passphrase?: string;
}

/**
 * Opens the repository for one WAL command with only what PostgreSQL's archiver can give it: a path and a passphrase
 * from the environment or a key file. It deliberately opens nothing else (no configuration file, no state store):
 * PostgreSQL runs this once per 16 MiB segment.
 */
export async function openRepositoryForWal(access: WalRepositoryAccess, env: NodeJS.ProcessEnv = process.env): Promise<Repository & { close(): Promise<void> }> {
  const path = access.repositoryPath ?? env.DATAKEEP_REPO;
  if (!path) throw new UsageError('--repo', 'no repository given; pass --repo PATH or set DATAKEEP_REPO');
  return openRepository(path, { passphrase: await resolvePassphrase(access, env), workers: 1 });
}

export async function resolvePassphrase(access: WalRepositoryAccess, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const direct = access.passphrase ?? env.DATAKEEP_REPO_PASSPHRASE;
  if (direct) return direct;
  const file = access.passphraseFile ?? env.DATAKEEP_REPO_PASSPHRASE_FILE;
  if (!file) {
    throw new UsageError('passphrase', 'no repository passphrase; set DATAKEEP_REPO_PASSPHRASE or DATAKEEP_REPO_PASSPHRASE_FILE, or pass --passphrase-file FILE (readable by the postgres user when PostgreSQL runs the command)');
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError('--passphrase-file', `cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); make it readable by the user running the command`, { cause: error });
  }
  const passphrase = text.split(/\r?\n/, 1)[0] ?? '';
  if (passphrase === '') throw new UsageError('--passphrase-file', `"${file}" is empty; its first line must be the passphrase`);
  return passphrase;
}
