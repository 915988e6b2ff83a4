import { resolve as resolvePath } from 'node:path';
import { object, text } from './config-fields.js';
import { hint } from './parse-config.js';

/** A URL of the PostgreSQL database that holds the state store (`state.url`, `$DATAKEEP_STATE_URL`). */
export const stateUrl = text().refine((url) => /^postgres(ql)?:\/\//i.test(url), {
  error: () => hint('must be a PostgreSQL URL', 'Use postgres://user@host:5432/db, or remove it for the embedded state store'),
});

/** The `state` section; `dir` is resolved against `cwd` (default ./.datakeep/state). */
export function stateSchema(cwd: string) {
  return object({ url: stateUrl.optional(), dir: text().optional() }, 'Write "state": {"url": "postgres://..."} or {"dir": "./.datakeep/state"}')
    .prefault({})
    .transform((state) => ({ url: state.url, dir: state.dir === undefined ? resolvePath(cwd, '.datakeep', 'state') : resolvePath(cwd, state.dir) }));
}
