import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { DatabaseType } from '../../src/config/database-config.js';
import type { EngineParts } from '../../src/engines/engine-definition.js';
import { ENGINES, getEngine } from '../../src/engines/engine-registry.js';

/**
 * Fails when an engine offers `part` but no target of a conformance suite runs it, so a new engine cannot ship a part
 * the suite never saw. An engine that reuses another's part object (MySQL reuses MariaDB's) is covered by that one.
 */
export function everyEngineWithPartHasATarget(part: keyof EngineParts, targets: readonly { engine: DatabaseType }[]): void {
  it(`every engine that offers the ${part} part runs this suite`, () => {
    const covered = targets.map((t) => getEngine(t.engine).parts[part]);
    const missing = ENGINES.filter((e) => e.parts[part] !== undefined && !covered.includes(e.parts[part])).map((e) => e.type);
    assert.deepEqual(missing, [], `engines offering ${part} without a conformance target: ${missing.join(', ')}`);
  });
}
