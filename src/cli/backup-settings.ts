import type { Command } from 'commander';
import type { BackupConfig } from '../backup/backup-config.js';
import { UsageError } from '../errors/index.js';
import type { CommandContext } from './command-context.js';
import { checkDirectoryArgument } from './directory-argument.js';
import { loadCliConfig } from './with-manager.js';

/** The options every repository command takes. */
export interface RepositoryFlags {
  dest?: string;
  passphraseFile?: string;
}

/** Adds --dest and --passphrase-file, which every command that opens a backup repository takes. */
export function repositoryOptions(command: Command): Command {
  return command
    .option('--dest <dir>', 'the backup destination: one repository per database below it (default: "backups.destination" in the config)')
    .option('--passphrase-file <file>', "the repositories' passphrase (else backups.passphraseFile, $DATAKEEP_REPO_PASSPHRASE(_FILE))");
}

const DESTINATION = 'the backup destination (the directory that holds one repository per database)';

/**
 * The backup settings: the config file's "backups" section, then the flags. Every default (type, compression,
 * encryption, retention) is the library's, applied by resolveBackupConfig: the CLI defines none of its own.
 * `mustExist`: the command reads backups (list, verify, restore, ...), so a missing destination is a usage error.
 */
export async function backupSettings(ctx: CommandContext, flags: RepositoryFlags & { type?: BackupConfig['type'] }, mustExist: boolean): Promise<BackupConfig> {
  const section = (await loadCliConfig(ctx)).backups ?? {};
  const destination = flags.dest ?? section.destination;
  if (!destination) throw new UsageError('--dest', 'no backup destination; pass --dest DIR or set "backups": {"destination": ...} in the config file');
  checkDirectoryArgument(flags.dest ? '--dest' : 'backups.destination', destination, DESTINATION,
    mustExist ? 'give the directory that "datakeep backup create --dest DIR" wrote to' : undefined);
  // The library validates the whole section and fills in what is missing (resolveBackupConfig).
  return { ...section, destination, ...(flags.type ? { type: flags.type } : {}), ...(flags.passphraseFile ? { passphraseFile: flags.passphraseFile } : {}) } as BackupConfig;
}
