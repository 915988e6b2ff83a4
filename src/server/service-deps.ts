import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DataManager } from '../data-manager.js';
import type { Logger } from '../util/logger.js';
import type { TokenStore } from './auth/token-store.js';
import type { JobRegistry } from './jobs/job-registry.js';

/** What the routes use. `tokens` and `jobs` exist once the state store is open (the API answers 503 before). */
export interface ServiceDeps {
  readonly dm: DataManager;
  readonly config: ResolvedDatakeepConfig;
  readonly logger: Logger;
  tokens(): TokenStore;
  jobs(): JobRegistry;
  /** Ready once the state store and the databases are open; the reason otherwise. */
  readiness(): { ready: true } | { ready: false; reason: string };
  /** The directory of the dashboard's static files. */
  readonly dashboardDir: string;
}
