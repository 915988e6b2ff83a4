// A backup in a child process, so that a test can SIGKILL it midway. Argument: JSON {repositoryPath, passphrase,
// dataDirectory, port, type, database}. Prints one JSON line per progress event, and {"done": ...} at the end.
import { backupPostgres } from '../../src/engines/postgres/backup/index.js';
import type { BackupType } from '../../src/repository/repository-types.js';
import { openRepository } from '../../src/repository/index.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  repositoryPath: string; passphrase: string; dataDirectory: string; port: number; type: BackupType; database: string; workers?: number;
};
const repository = await openRepository(args.repositoryPath, { passphrase: args.passphrase, workers: 1 });
const result = await backupPostgres({
  connection: { host: '127.0.0.1', port: args.port, user: 'postgres', database: 'postgres' },
  dataDirectory: args.dataDirectory,
  repository,
  type: args.type,
  database: args.database,
  workers: args.workers ?? 1,
  onProgress: (progress) => process.stdout.write(`${JSON.stringify(progress)}\n`),
});
process.stdout.write(`${JSON.stringify({ done: result.backupId })}\n`);
await repository.close();
