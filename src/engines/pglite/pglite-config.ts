import { resolve as resolvePath } from 'node:path';
import { NO_ENGINE_SETTINGS, type EngineConfig } from '../../config/engine-config.js';

/** PGlite keeps its data in a directory (default ./.datakeep/data, "memory" for none) named by `pglite:PATH`. */
export const pgliteConfig: EngineConfig<undefined> = {
  optionKeys: [],
  dataDir: (dataDir) => (dataDir === undefined ? resolvePath('.datakeep', 'data') : dataDir === 'memory' ? 'memory' : resolvePath(dataDir)),
  url: {
    opaque: (rest) => {
      const path = rest.replace(/^\/\//, '');
      return path === '' ? {} : { dataDir: path };
    },
  },
  settings: NO_ENGINE_SETTINGS,
};
