import { execFile } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { initRepository, openRepository, type BackupRepository } from '../../src/repository/index.js';
import { PG_BIN_DIR, ThrowawayPostgres } from './throwaway-postgres.js';
import { freePort } from './free-port.js';

const execFileAsync = promisify(execFile);

export interface ArchivingPostgres {
  readonly cluster: ThrowawayPostgres;
  readonly repository: BackupRepository;
  readonly repositoryPath: string;
  readonly passphrase: string;
  readonly passphraseFile: string;
  /** `datakeep wal get` for restore_command, with this repository. */
  readonly restoreCommand: string;
  /** The `datakeep wal <args>` command line (datakeepCommandLine(), absolute paths) as an argv. */
  walArgv(args: readonly string[]): string[];
  /** A directory under the cluster's root for a restored copy (removed with the cluster). */
  restoreDir(name: string): string;
  /** Starts nothing; stops restored servers started in directories from restoreDir, then destroys the cluster. */
  destroy(): Promise<void>;
  /** A free port for a restored server. */
  freePort(): Promise<number>;
  /** Connects to a restored server on `port`. */
  queryRestored<R>(port: number, sql: string): Promise<R[]>;
  /** Stops a restored server (immediate). */
  stopRestored(dir: string): Promise<void>;
  /** Runs pg_switch_wal and waits until the repository has the segment that was current. */
  switchAndArchive(): Promise<string>;
}

/**
 * A throwaway cluster whose archive_command pushes into a fresh datakeep repository (`wal push %p`), as a production
 * setup does. The repository and the passphrase file belong to postgres, because the archiver runs as postgres.
 */
export async function startArchivingPostgres(name: string, options: { config?: readonly string[] } = {}): Promise<ArchivingPostgres> {
  const cluster = new ThrowawayPostgres({ name, config: ['wal_level = replica', 'max_wal_senders = 5'] });
  const restored = new Set<string>();
  try {
    await cluster.init();
    const passphrase = `test passphrase ${name} ${process.pid}`;
    const keys = cluster.ownedDir('keys');
    const passphraseFile = join(keys, 'passphrase');
    writeFileSync(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
    const repositoryPath = join(cluster.root, 'repo');
    await (await initRepository(repositoryPath, { passphrase, workers: 2 })).close();
    chownTree(repositoryPath);
    chownTree(keys);
    const walArgv = (args: readonly string[]) => [...datakeepCommandLine(), 'wal', ...args, '--repo', repositoryPath, '--passphrase-file', passphraseFile];
    const shell = (argv: readonly string[]) => argv.map((a) => (a.startsWith('%') || a.startsWith('"') ? a : `'${a}'`)).join(' ');
    cluster.appendConfig([
      'archive_mode = on',
      `archive_command = '${shell(walArgv(['push', '%p'])).replace(/'/g, "''")}'`,
      // After the archive settings, so that a test can override them.
      ...(options.config ?? []),
    ]);
    await cluster.start();
    const repository = await openRepository(repositoryPath, { passphrase, workers: 2 });
    const fixture: ArchivingPostgres = {
      cluster,
      repository,
      repositoryPath,
      passphrase,
      passphraseFile,
      restoreCommand: shell(walArgv(['get', '%f', '"%p"'])),
      walArgv,
      restoreDir: (dirName) => {
        const dir = join(cluster.root, dirName);
        restored.add(dir);
        return dir;
      },
      freePort: () => freePort('127.0.0.1'),
      async queryRestored<R>(port: number, sql: string): Promise<R[]> {
        const pg = (await import('pg')).default;
        const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
        client.on('error', () => undefined);
        await client.connect();
        try {
          return (await client.query(sql)).rows as R[];
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      stopRestored: (dir) => stopRestored(dir),
      async switchAndArchive(): Promise<string> {
        const [row] = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()');
        const segment = row!.name;
        const deadline = Date.now() + 60_000;
        while (!(await repository.listWal()).includes(segment)) {
          if (Date.now() > deadline) throw new Error(`segment ${segment} not archived after 60 s\n${cluster.logTail()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return segment;
      },
      async destroy(): Promise<void> {
        // Its chunk worker threads would keep the test process alive.
        await repository.close();
        for (const dir of restored) await stopRestored(dir);
        await cluster.destroy();
      },
    };
    return fixture;
  } catch (error) {
    for (const dir of restored) await stopRestored(dir);
    await cluster.destroy();
    throw error;
  }
}

async function stopRestored(dir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  } catch {
    return;
  }
  try {
    await execFileAsync('runuser', ['-u', 'postgres', '--', join(PG_BIN_DIR, 'pg_ctl'), 'stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30'], { cwd: '/' });
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Makes a directory tree belong to postgres (the archiver writes WAL into the repository as that user). */
export function chownTree(path: string): void {
  const { uid, gid } = postgresIds();
  const walk = (p: string) => {
    chownSync(p, uid, gid);
    if (statSync(p).isDirectory()) {
      chmodSync(p, 0o700);
      for (const name of readdirSync(p)) walk(join(p, name));
    }
  };
  walk(path);
}

export function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))!;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
