import { NO_ENGINE_SETTINGS, type EngineConfig } from '../../config/engine-config.js';

/** PostgreSQL takes the shared fields only (TLS, statementTimeout, applicationName all map to pg's options). */
export const postgresConfig: EngineConfig<undefined> = { optionKeys: [], settings: NO_ENGINE_SETTINGS };
