// The `datakeep wal ...` entry for archive_command/restore_command in tests (runWalCommand, without the rest of runCli):
// node --import <absolute tsx loader> test/support/wal-command-main.ts push %p --repo DIR --passphrase-file FILE
import { runWalCommand } from '../../src/cli/run-wal-command.js';

process.exitCode = await runWalCommand(process.argv.slice(2));
