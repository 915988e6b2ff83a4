import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
export async function backupSettings(ctx: CommandContext, flags: RepositoryFlags & { type?: BackupConfig['type']; method?: BackupConfig['method']; tables?: string[] }, mustExist: boolean): Promise<BackupConfig> {
  const loaded = await loadCliConfig(ctx);
  const section = loaded.backups ?? {};
  // Nothing configured (the embedded database): backups go next to it, so that `datakeep backup` works on a bare machine.
  const embedded: { destination?: string; passphraseFile?: string } = loaded.embeddedDefault && flags.dest === undefined && section.destination === undefined ? embeddedBackupDefaults(loaded.state.dir, section, flags, mustExist) : {};
  const destination = flags.dest ?? section.destination ?? embedded.destination;
  if (!destination) throw new UsageError('--dest', 'no backup destination; pass --dest DIR or set "backups": {"destination": ...} in the config file');
  checkDirectoryArgument(flags.dest ? '--dest' : 'backups.destination', destination, DESTINATION,
    mustExist ? 'give the directory that "datakeep backup create --dest DIR" wrote to' : undefined);
  // The library validates the whole section and fills in what is missing (resolveBackupConfig).
  return { ...section, ...embedded, destination, ...(flags.type ? { type: flags.type } : {}), ...(flags.method ? { method: flags.method } : {}), ...(flags.tables ? { tables: flags.tables } : {}), ...(flags.passphraseFile ? { passphraseFile: flags.passphraseFile } : {}) } as BackupConfig;
}

/**
 * ./.datakeep/backups, and, when no passphrase is given anywhere, a key file made once beside it (mode 0600): the
 * backups stay encrypted and authenticated, and the message says to keep a copy of the key elsewhere.
 */
function embeddedBackupDefaults(stateDir: string, section: Partial<BackupConfig>, flags: RepositoryFlags, mustExist: boolean): { destination: string; passphraseFile?: string } {
  const home = dirname(stateDir);
  const destination = join(home, 'backups');
  const passphraseGiven = flags.passphraseFile !== undefined || section.passphraseFile !== undefined || section.encryption === false ||
    process.env.DATAKEEP_REPO_PASSPHRASE !== undefined || process.env.DATAKEEP_REPO_PASSPHRASE_FILE !== undefined;
  if (passphraseGiven) return { destination };
  const keyFile = join(home, 'backup.key');
  if (!existsSync(keyFile)) {
    if (mustExist) return { destination };
    mkdirSync(home, { recursive: true });
    writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    process.stderr.write(`datakeep: made the backup key ${keyFile}; keep a copy elsewhere: without it these backups cannot be read\n`);
  }
  return { destination, passphraseFile: keyFile };
}
