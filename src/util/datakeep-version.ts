import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (two levels up from both src/util and dist/util). */
export const DATAKEEP_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
