// Child process of repository-interrupted.test.ts: begins a backup, stores chunks of an endless stream, says so on
// stdout, and goes on until the parent kills it with SIGKILL.
import { openRepository } from '../../src/repository/index.js';
import { syntheticStream } from './synthetic-data.js';

const [path, passphrase] = process.argv.slice(2) as [string, string];
const repository = await openRepository(path, { passphrase, workers: 1 });
const writer = await repository.beginBackup({ type: 'full', database: 'main' });
let sent = 0;
const stream = syntheticStream(1024 * 1024 * 1024, 77);
stream.on('data', (piece: Buffer) => {
  sent += piece.length;
  if (sent >= 3 * 1024 * 1024 && sent - piece.length < 3 * 1024 * 1024) setTimeout(() => process.stdout.write('chunks-stored\n'), 500);
});
await writer.addFile('base/1/huge', stream, { size: 1024 * 1024 * 1024, mtimeMs: 0, mode: 0o600 });
