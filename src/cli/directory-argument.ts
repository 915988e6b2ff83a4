import { statSync } from 'node:fs';
import { UsageError } from '../errors/index.js';

/**
 * Refuses a path argument that cannot be the directory it must name (a file, or a path through a file) before a
 * library call turns it into a bare ENOTDIR. `missing`, when given, is the advice for a path that does not exist
 * (commands that only read); without it a missing directory is fine (it is created).
 */
export function checkDirectoryArgument(argument: string, path: string, what: string, missing?: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new UsageError(argument, `"${path}" runs through a file, so it cannot be ${what}; give a directory`);
    if (code === 'ENOENT' && missing !== undefined) throw new UsageError(argument, `"${path}" does not exist; ${missing}`);
    // Anything else (no permission, ...) is left to the command, whose error names the file it could not use.
    return;
  }
  if (!isDirectory) throw new UsageError(argument, `"${path}" is a file, not a directory; give ${what}`);
}
