import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors/index.js';
import type { MigrationModule } from './migration-types.js';

/**
 * Imports a .ts/.js migration module. TypeScript files go through tsx's loader, so users need no build step for
 * their migrations; the module must export `up` (and may export `down` and `transaction`).
 */
export async function loadMigrationModule(path: string, checksum: string): Promise<MigrationModule> {
  // ES modules are cached by URL for the life of the process. tsImport loads each call in a namespace of its own,
  // so an edited file (in a long-running service) is loaded anew instead of the stale module; the checksum in the
  // query is a second guard. JavaScript modules go through it too, for the same freshness.
  const url = `${pathToFileURL(path).href}?checksum=${checksum.slice(-16)}`;
  const { tsImport } = await import('tsx/esm/api');
  const mod = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  const source = (typeof mod.up === 'function' ? mod : (mod.default as Record<string, unknown> | undefined)) ?? {};
  if (typeof source.up !== 'function') {
    throw new UsageError(path, 'does not export an up(ctx) function; write `export async function up(ctx) { ... }`');
  }
  if (source.down !== undefined && typeof source.down !== 'function') throw new UsageError(path, 'exports down, but it is not a function');
  if (source.transaction !== undefined && typeof source.transaction !== 'boolean') throw new UsageError(path, 'exports transaction, but it is not true or false');
  return source as unknown as MigrationModule;
}
