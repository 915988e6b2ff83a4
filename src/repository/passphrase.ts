import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors/index.js';

/** Where a repository passphrase may come from, besides the environment. */
export interface PassphraseSources {
  /** A file holding the passphrase (first line). Default: env DATAKEEP_REPO_PASSPHRASE_FILE. */
  passphraseFile?: string;
  /** Default: env DATAKEEP_REPO_PASSPHRASE (wins over the file when both are set). */
  passphrase?: string;
}

/** The passphrase: given, else $DATAKEEP_REPO_PASSPHRASE, else the first line of the file (given or from the environment). */
export async function resolvePassphrase(access: PassphraseSources, env: NodeJS.ProcessEnv = process.env): Promise<string> {
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
