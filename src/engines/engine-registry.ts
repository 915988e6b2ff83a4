import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { DatabaseType } from '../config/database-config.js';
import { CapabilityError } from '../errors/index.js';
import type { EngineDefinition, EngineParts } from './engine-definition.js';
import { mariadbEngine, mysqlEngine } from './mariadb/mariadb-engine.js';
import { mongodbEngine } from './mongodb/mongodb-engine.js';
import { pgliteEngine } from './pglite/pglite-engine.js';
import { postgresEngine } from './postgres/postgres-engine.js';
import { redisEngine } from './redis/redis-engine.js';

/**
 * Every engine datakeep knows. Adding an engine is a folder under engines/ holding its definition (facts, adapter,
 * parts) and one line here; the configuration layer, the registry, the CLI and every subsystem find it through this
 * table and ask it for parts (`enginePart`), never testing its type.
 */
export const ENGINES: readonly EngineDefinition[] = [postgresEngine, pgliteEngine, redisEngine, mongodbEngine, mariadbEngine, mysqlEngine];

export function findEngineByType(name: string): EngineDefinition | undefined {
  const lower = name.toLowerCase();
  return ENGINES.find((e) => e.type === lower || e.aliases.includes(lower));
}

export function findEngineByScheme(scheme: string): EngineDefinition | undefined {
  return ENGINES.find((e) => e.urlSchemes.includes(scheme.toLowerCase()));
}

export function getEngine(type: DatabaseType | string): EngineDefinition {
  const engine = ENGINES.find((e) => e.type === type);
  if (!engine) throw new Error(`internal: engine ${type} missing from ENGINES`);
  return engine;
}

/** The engines that offer a part, by type: for messages that say what to use instead. */
export function enginesWith(part: keyof EngineParts): string[] {
  return ENGINES.filter((e) => e.parts[part] !== undefined).map((e) => e.type);
}

/**
 * The part of `adapter`'s engine that a subsystem needs, or a CapabilityError naming `capability` and the engines
 * that have it. This is how subsystems reach engine code: by capability, never by testing the engine's type.
 */
export function enginePart<K extends keyof EngineParts>(adapter: Pick<DatabaseAdapter, 'id' | 'type'>, part: K, capability: string): NonNullable<EngineParts[K]> {
  const found = getEngine(adapter.type).parts[part];
  if (found === undefined) {
    throw new CapabilityError(adapter.id, capability, `${adapter.type} has no ${capability} in datakeep`, `Use a database of type ${enginesWith(part).join(', ')}`);
  }
  return found as NonNullable<EngineParts[K]>;
}

/** The part when the engine has it, else undefined (for callers that skip such engines). */
export function optionalEnginePart<K extends keyof EngineParts>(adapter: Pick<DatabaseAdapter, 'type'>, part: K): EngineParts[K] {
  return getEngine(adapter.type).parts[part];
}
