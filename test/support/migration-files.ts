import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary migrations directory filled from a map of file name -> content. */
export function migrationDir(files: Record<string, string>, prefix = 'dk-mig-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeMigrations(dir, files);
  return dir;
}

export function writeMigrations(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
}

export function sql(up: string, down?: string, options = ''): string {
  return `-- migrate:up${options ? ` ${options}` : ''}\n${up}\n${down === undefined ? '' : `\n-- migrate:down\n${down}\n`}`;
}
