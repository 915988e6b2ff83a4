// The library is imported on first use, not at the top: `datakeep wal push|get` share this program and PostgreSQL
// runs them once per WAL segment, so registering the commands must load nothing but the command line itself.
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DataManager } from '../data-manager.js';
import type { CommandContext } from './command-context.js';

/** The configuration of the command (`--config`, `$DATAKEEP_CONFIG`, ./datakeep.config.json, or the embedded default). */
export async function loadCliConfig(ctx: CommandContext): Promise<ResolvedDatakeepConfig> {
  const { loadConfig } = await import('../config/load-config.js');
  return loadConfig({ file: ctx.configFile });
}

/** Runs `fn` with an initialized DataManager from the command's configuration, closing it afterwards. */
export async function withManager<T>(ctx: CommandContext, fn: (dm: DataManager) => Promise<T>): Promise<T> {
  return withRepositoryOnly(ctx, async (dm) => {
    await dm.initialize();
    return fn(dm);
  });
}

/**
 * Runs `fn` with a DataManager that is not initialized: commands that only read the backup repository (list, verify,
 * window, restore) must work while the database they protect is down, so they never open a connection.
 */
export async function withRepositoryOnly<T>(ctx: CommandContext, fn: (dm: DataManager) => Promise<T>): Promise<T> {
  const { DataManager } = await import('../data-manager.js');
  const dm = new DataManager({ configFile: ctx.configFile });
  try {
    return await fn(dm);
  } finally {
    await dm.close();
  }
}
