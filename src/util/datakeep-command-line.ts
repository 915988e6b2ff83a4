import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Set by the test runner (scripts/run-tests.mjs) after it has compiled dist/ from these very sources: commands that
 * PostgreSQL runs (one process per WAL segment) then start the compiled CLI, 0.2 s instead of tsx's 0.6 s.
 */
export const COMPILED_CLI_ENV = 'DATAKEEP_COMMAND_LINE_COMPILED';

/**
 * The argv that runs this very datakeep's CLI in another process (archive_command and restore_command, which
 * PostgreSQL runs with its own working directory and environment): absolute paths only. Running from the compiled
 * package it is `node bin/datakeep.js`; running from sources (tests, a checkout without a build) it is node with tsx's
 * loader and src/cli/run.ts, so the command always matches the code that wrote it, unless COMPILED_CLI_ENV says that
 * dist/ was just built from these sources.
 */
export function datakeepCommandLine(): string[] {
  const here = fileURLToPath(import.meta.url);
  const bin = fileURLToPath(new URL('../../bin/datakeep.js', import.meta.url));
  if (here.endsWith('.ts')) {
    const compiled = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
    if (process.env[COMPILED_CLI_ENV] === '1' && existsSync(compiled)) return [process.execPath, bin];
    const loader = fileURLToPath(import.meta.resolve('tsx'));
    return [process.execPath, '--import', loader, fileURLToPath(new URL('../cli/run.ts', import.meta.url))];
  }
  if (!existsSync(bin)) throw new Error(`internal: ${bin} is missing`);
  return [process.execPath, bin];
}
