import type { Logger } from '../util/logger.js';
import { StateStore } from './state-store.js';

/**
 * The state store for a subsystem that also works before initialize() (backup list, verify and restore read only the
 * repository): the DataManager's store when there is one, else one opened on first use from the configuration's
 * `state` section and closed by close().
 */
export class FallbackStateStore {
  #own: Promise<StateStore> | undefined;

  constructor(
    private readonly shared: () => Promise<StateStore> | undefined,
    private readonly settings: () => { url: string | undefined; dir: string },
    private readonly logger: () => Logger,
  ) {}

  get(): Promise<StateStore> {
    const shared = this.shared();
    if (shared) return shared;
    this.#own ??= StateStore.open(this.settings(), this.logger()).catch((error: unknown) => {
      this.#own = undefined;
      throw error;
    });
    return this.#own;
  }

  async close(): Promise<void> {
    const own = this.#own;
    this.#own = undefined;
    await (await own?.catch(() => undefined))?.close();
  }
}
