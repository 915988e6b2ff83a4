// The `datakeep wal ...` entry for archive_command/restore_command in tests, until the CLI binary carries it:
// node --import <absolute tsx loader> test/support/wal-command-main.ts push %p --repo DIR --passphrase-file FILE
import { runWalCommand } from '../../src/engines/postgres/backup/wal-command.js';

process.exitCode = await runWalCommand(process.argv.slice(2));
