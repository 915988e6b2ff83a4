import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The argv that runs this very datakeep's CLI in another process (archive_command and restore_command, which
 * PostgreSQL runs with its own working directory and environment): absolute paths only. Running from the compiled
 * package it is `node bin/datakeep.js`; running from sources (tests, a checkout without a build) it is node with tsx's
 * loader and src/cli/run.ts, so the command always matches the code that wrote it.
 */
export function datakeepCommandLine(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const loader = fileURLToPath(import.meta.resolve('tsx'));
    return [process.execPath, '--import', loader, fileURLToPath(new URL('../cli/run.ts', import.meta.url))];
  }
  const bin = fileURLToPath(new URL('../../bin/datakeep.js', import.meta.url));
  if (!existsSync(bin)) throw new Error(`internal: ${bin} is missing`);
  return [process.execPath, bin];
}
