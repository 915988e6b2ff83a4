import { UsageError } from '../../../errors/index.js';
import { openRepository } from '../../../repository/index.js';
import type { Repository } from '../../../repository/repository-types.js';
import { resolvePassphrase, type PassphraseSources } from '../../../repository/passphrase.js';

export interface WalRepositoryAccess extends PassphraseSources {
  /** The repository directory. Default: env DATAKEEP_REPO. */
  repositoryPath?: string;
}

/**
 * Opens the repository for one WAL command with only what PostgreSQL's archiver can give it: a path and a passphrase
 * from the environment or a key file. It deliberately opens nothing else (no configuration file, no state store):
 * PostgreSQL runs this once per 16 MiB segment.
 */
export async function openRepositoryForWal(access: WalRepositoryAccess, env: NodeJS.ProcessEnv = process.env): Promise<Repository & { close(): Promise<void> }> {
  const path = access.repositoryPath ?? env.DATAKEEP_REPO;
  if (!path) throw new UsageError('--repo', 'no repository given; pass --repo PATH or set DATAKEEP_REPO');
  // Inline (no worker thread): one segment is one stream, so a thread gives no parallelism here and its start-up
  // cost about 0.2 s of CPU on every call, which PostgreSQL makes once per segment (and per history-file probe).
  return openRepository(path, { passphrase: await resolvePassphrase(access, env), workers: 0 });
}

export { resolvePassphrase };
