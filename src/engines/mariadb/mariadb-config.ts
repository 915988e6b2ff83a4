import { NO_ENGINE_SETTINGS, type EngineConfig } from '../../config/engine-config.js';

/** MariaDB and MySQL take the shared fields only. */
export const mariadbConfig: EngineConfig<undefined> = { optionKeys: [], settings: NO_ENGINE_SETTINGS };
