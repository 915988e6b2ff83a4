import { runProgram } from './main.js';

export interface WalCommandIo {
  /** Receives whole lines, each ending in a newline. */
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/**
 * `datakeep wal <argv>`, as PostgreSQL runs it (archive_command, restore_command), for tests and entry points that
 * call it in-process: returns the exit code of WAL_EXIT and never throws. Output goes to process.stdout/stderr unless
 * `io` says otherwise; the environment (DATAKEEP_REPO, the passphrase variables, PG*) is `io.env` or process.env.
 */
export async function runWalCommand(argv: readonly string[], io: Partial<WalCommandIo> = {}): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => process.stderr.write(text));
  return runProgram(['wal', ...argv], { io: { out: (text) => stdout(`${text}\n`), err: (text) => stderr(`${text}\n`) }, env: io.env ?? process.env, exitCode: 0 });
}
