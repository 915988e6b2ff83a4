import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { shellQuote } from '../../src/util/shell-quote.js';
import { chownTree } from './archiving-postgres.js';
import { ThrowawayPostgres } from './throwaway-postgres.js';

/**
 * A throwaway cluster set up the way docs/backups.md tells users to: archive_command = datakeep's `wal push` into
 * DESTINATION/<database id>, with the passphrase in a file the postgres user can read. The repository itself is
 * created by the first createBackup. `config` lines come after these (so they win).
 */
export async function startBackupCluster(name: string, databaseId: string, options: { config?: readonly string[] } = {}): Promise<{ cluster: ThrowawayPostgres; work: string; destination: string; passphraseFile: string }> {
  const work = mkdtempSync(join(tmpdir(), `dk-${name}-`));
  const destination = join(work, 'backups');
  const passphraseFile = join(work, 'passphrase');
  writeFileSync(passphraseFile, `seed example passphrase ${process.pid}\n`, { mode: 0o600 });
  chownTree(work);
  const push = [...datakeepCommandLine(), 'wal', 'push', '%p', '--repo', join(destination, databaseId), '--passphrase-file', passphraseFile]
    .map((a) => (a === '%p' ? a : shellQuote(a))).join(' ');
  const cluster = new ThrowawayPostgres({ name, config: ['wal_level = replica', 'archive_mode = on', `archive_command = '${push.replace(/'/g, "''")}'`, 'archive_timeout = 0', ...(options.config ?? [])] });
  await cluster.init();
  await cluster.start();
  return { cluster, work, destination, passphraseFile };
}
