import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import type { DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import type { DatabaseConfig, DatabaseType } from '../../src/config/database-config.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { getEngine } from '../../src/engines/engine-registry.js';
import { silentLogger } from '../../src/util/logger.js';

/**
 * An isolated place on a real server where an engine-part conformance suite may write: its own database (SQL,
 * MongoDB, PGlite directory) or its own key prefix (Redis), and how to remove it. Every table, collection, lock and
 * key the suites create is named with `prefix`, so teardown can remove exactly what they wrote.
 */
export interface PartNamespace {
  /** A configuration for adapters on the namespace; JSON-serialisable, so a child process can open it too. */
  readonly config: DatabaseConfig;
  /** Lower-case letters, digits and `_`: valid in SQL identifiers, collection names and keys. */
  readonly prefix: string;
  /**
   * False when only one adapter at a time may open the namespace (PGlite's directory belongs to one process): the
   * suites then use one adapter where they would use two, and skip what needs another process.
   */
  readonly shared: boolean;
  teardown(): Promise<void>;
}

/** A prefix of its own for one namespace: `dkc_` and 8 hex digits. */
export function newPrefix(): string {
  return `dkc_${randomBytes(4).toString('hex')}`;
}

/**
 * A new connected adapter on a namespace's `config`, made through the engine registry the way `DataManager` makes one, so the
 * suites reach each part exactly as the subsystems do (`enginePart(adapter, ...)`).
 */
export async function openAdapter(input: DatabaseConfig): Promise<DatabaseAdapter> {
  const config = resolveDatabaseConfig(input, 'test');
  const adapter = await getEngine(config.type).create(config, { logger: silentLogger });
  await adapter.connect();
  return adapter;
}

/** Opens adapters on one namespace and closes every one of them at the end (also those a test already closed). */
export class AdapterSet {
  readonly #open = new Set<DatabaseAdapter>();

  constructor(private readonly namespace: () => PartNamespace) {}

  async open(): Promise<DatabaseAdapter> {
    const adapter = await openAdapter(this.namespace().config);
    this.#open.add(adapter);
    return adapter;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#open].map((a) => a.close().catch(() => undefined)));
    this.#open.clear();
  }
}

/**
 * What every part suite starts from, set up by hooks of the enclosing `describe`: a fresh namespace of the target's,
 * an adapter `a` on it, and `b`, another runner's adapter on the same namespace (or `a` again where the namespace
 * admits one adapter only). Everything is closed and the namespace removed after the suite.
 */
export class PartFixture {
  readonly adapters = new AdapterSet(() => this.namespace);
  #namespace: PartNamespace | undefined;
  #a: DatabaseAdapter | undefined;
  #b: DatabaseAdapter | undefined;

  constructor(target: { engine: DatabaseType; namespace(): Promise<PartNamespace> }) {
    before(async () => {
      this.#namespace = await target.namespace();
      this.#a = await this.adapters.open();
      this.#b = this.#namespace.shared ? await this.adapters.open() : this.#a;
      assert.equal(this.#a.type, target.engine);
    });
    after(async () => {
      await this.adapters.closeAll();
      await this.#namespace?.teardown();
    });
  }

  get namespace(): PartNamespace {
    return ready(this.#namespace);
  }
  get a(): DatabaseAdapter {
    return ready(this.#a);
  }
  get b(): DatabaseAdapter {
    return ready(this.#b);
  }
}

function ready<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the part fixture is used before its before() hook ran');
  return value;
}
