// A separate process that takes one migration lock through the engine's part and holds it until it is killed (the
// crash tests SIGKILL it). argv: JSON {config, tableName, lockMode, leaseTtl}. Prints "held" once it holds the lock.
import { enginePart } from '../../src/engines/engine-registry.js';
import type { MigrationLockSettings } from '../../src/migrations/migration-part.js';
import type { DatabaseConfig } from '../../src/config/database-config.js';
import { openAdapter } from './part-namespace.js';

const input = JSON.parse(process.argv[2]!) as { config: DatabaseConfig } & MigrationLockSettings;
const adapter = await openAdapter(input.config);
const lock = enginePart(adapter, 'migrations', 'migrations').lock(adapter, input);
await lock.acquire(30_000);
process.stdout.write('held\n');
// Bounded, so that a test that forgets to kill it does not leave it behind for long.
await new Promise((resolve) => setTimeout(resolve, 60_000));
await lock.release();
await adapter.close();
