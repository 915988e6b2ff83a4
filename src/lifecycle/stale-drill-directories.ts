import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../util/process-alive.js';

/**
 * Scratch directories of restore drills (`$TMPDIR/datakeep-drill-*`) older than `days` whose server is not running:
 * what a drill killed half-way leaves behind. A directory whose server still runs is left alone.
 */
export async function removeStaleDrillDirectories(days: number, root: string = tmpdir()): Promise<number> {
  const cutoff = Date.now() - days * 86_400_000;
  let removed = 0;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith('datakeep-drill-')) continue;
    const path = join(root, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isDirectory() || info.mtimeMs > cutoff) continue;
    const pidFile = join(path, 'data', 'postmaster.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n', 1)[0]);
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
    }
    await rm(path, { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}
