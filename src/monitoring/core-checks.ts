import { isDeepStrictEqual } from 'node:util';
import type { HealthStatus } from '../adapters/health-status.js';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import { LifecycleError } from '../errors/index.js';
import { STATE_MIGRATIONS } from '../state/state-migrations.js';
import type { StateStore } from '../state/state-store.js';
import { redactUrlPasswords } from '../util/secrets.js';
import { systemCheck, type SystemCheck } from './system-check.js';

/** What the checks of the monitoring layer itself read: the configuration in use and how to load it again. */
export interface CoreCheckSource {
  readonly config: ResolvedDatakeepConfig;
  /** Loads the configuration again from where it came from; undefined when it was given in code (it cannot change). */
  readonly reload: (() => ResolvedDatakeepConfig) | undefined;
  state(): Promise<StateStore>;
}

/**
 * `config`: the configuration this process runs with, and whether its source still loads and still says the same. A
 * file edited since the start is read by the next command and the next restart: an edit that no longer loads, or that
 * changed something, is found here before that restart.
 */
export function configCheck(source: CoreCheckSource): SystemCheck {
  const config = source.config;
  const sections = (['migrations', 'backups', 'transactions', 'lifecycle', 'replication'] as const).filter((s) => config[s] !== undefined);
  const summary = `${config.databases.length} database(s)${config.embeddedDefault ? ' (the embedded default)' : ''}${sections.length ? `, sections: ${sections.join(', ')}` : ''}; from ${config.source}`;
  if (!source.reload) return systemCheck('config', 'ok', summary);
  let now: ResolvedDatakeepConfig;
  try {
    now = source.reload();
  } catch (error) {
    return systemCheck('config', 'error', `${summary}; loading it again fails, so the next restart or command will not start: ${redactUrlPasswords((error as Error).message)}`);
  }
  const { source: _a, ...running } = config;
  const { source: _b, ...current } = now;
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(running)), JSON.parse(JSON.stringify(current)))) {
    const changed = Object.keys(running).filter((k) => !isDeepStrictEqual(JSON.stringify(running[k as keyof typeof running]), JSON.stringify(current[k as keyof typeof current])));
    return systemCheck('config', 'warn', `${summary}; it changed since this process started (${changed.join(', ')}): restart to apply it`);
  }
  return systemCheck('config', 'ok', summary);
}

/** `connectivity:<id>`: each database's health probe (unhealthy is an error, degraded a warning). */
export function connectivityChecks(statuses: Iterable<HealthStatus>): SystemCheck[] {
  return [...statuses].map((s) => {
    const name = `connectivity:${s.adapterId}`;
    if (s.status === 'unhealthy') return systemCheck(name, 'error', `unreachable: ${s.reasons.join('; ')}`);
    if (s.status === 'degraded') return systemCheck(name, 'warn', `degraded (${s.latency} ms): ${s.reasons.join('; ')}`);
    return systemCheck(name, 'ok', `${s.type}, healthy (${s.latency} ms)`);
  });
}

/**
 * `state-store`: the store opens, and its schema is the one this datakeep writes. A version this datakeep does not
 * know means a newer datakeep sharing the store upgraded it: this one may misread what that one writes.
 */
export async function stateStoreCheck(source: CoreCheckSource): Promise<SystemCheck> {
  let store: StateStore;
  try {
    store = await source.state();
  } catch (error) {
    const message = redactUrlPasswords((error as Error).message);
    // An embedded store open in another process (a running `datakeep serve` while the CLI validates) works for that
    // process; this one only cannot read it.
    if ((error as Error).cause instanceof LifecycleError) return systemCheck('state-store', 'warn', `${message}; the checks that read it here were skipped`);
    return systemCheck('state-store', 'error', `cannot open the state store: ${message}`);
  }
  const known = new Set(STATE_MIGRATIONS.map((m) => m.version));
  const latest = Math.max(...known);
  const applied = await store.schemaVersions();
  const unknown = applied.filter((v) => !known.has(v));
  const missing = [...known].filter((v) => !applied.includes(v));
  const where = `${store.location}, schema version ${Math.max(0, ...applied)}`;
  if (unknown.length > 0) return systemCheck('state-store', 'error', `${where}: version(s) ${unknown.join(', ')} come from a newer datakeep (this one knows up to ${latest}); upgrade every datakeep instance that shares this store`);
  if (missing.length > 0) return systemCheck('state-store', 'error', `${where}: version(s) ${missing.join(', ')} are not applied; restart datakeep to apply them`);
  return systemCheck('state-store', 'ok', where);
}
