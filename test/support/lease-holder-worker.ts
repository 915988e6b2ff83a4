// A separate process that opens a backup repository and holds one of its named leases until it is killed (a crashed
// holder) or 60 s pass. argv: JSON {path, passphrase, name}. Prints "held" once it holds the lease.
import { openRepository } from '../../src/repository/index.js';

const input = JSON.parse(process.argv[2]!) as { path: string; passphrase: string; name: string };
const repository = await openRepository(input.path, { passphrase: input.passphrase, workers: 0 });
const lease = await repository.lease(input.name, 'held by a test process', { timeoutMs: 30_000 });
process.stdout.write('held\n');
await new Promise((resolve) => setTimeout(resolve, 60_000));
await lease.release();
await repository.close();
