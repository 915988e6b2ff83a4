// MongoDB logical backup: datakeep's backup (raw BSON per collection, chunked, zstd, encrypted, into the repository,
// with the catalog of options and indexes) side by side with the peer available here: mongodump is not packaged by
// Debian, so the peer is a raw driver dump, a cursor's raw BSON written to one file per collection (what mongodump
// writes, without its metadata files and without compression). Rounds alternate; medians and the ratio are printed.
//
// Run: node --import tsx bench/mongodb-backup.ts [--documents=100000] [--rounds=3]
// Needs the ferretdb binary (scripts/install-ferretdb.sh); the server is a throwaway FerretDB on SQLite.
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { MongoClient, type FindCursor } from 'mongodb';
import { backupMongodb } from '../src/engines/mongodb/backup/backup-mongodb.js';
import { initRepository } from '../src/repository/index.js';
import { ThrowawayFerretdb } from '../test/support/throwaway-ferretdb.js';
import { machineNote } from './support/machine-note.js';
import { median } from './support/stats.js';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const documents = arg('documents', 100_000);
const rounds = arg('rounds', 3);
const PASSPHRASE = 'bench-passphrase';

const server = await ThrowawayFerretdb.start({ name: 'bench-mongo' });
const work = mkdtempSync(join(tmpdir(), 'dk-bench-mongo-'));
const client = new MongoClient(server.url);
try {
  const db = client.db('bench');
  for (const name of ['orders', 'events']) {
    for (let i = 0; i < documents / 2; i += 5000) {
      await db.collection(name).insertMany(Array.from({ length: Math.min(5000, documents / 2 - i) }, (_, j) => ({
        n: i + j, at: new Date(1_700_000_000_000 + i + j), note: `row ${i + j} ${'lorem ipsum '.repeat(20)}`, tags: ['a', 'b', i % 7],
      })));
    }
    await db.collection(name).createIndex({ n: 1 });
  }
  const rawSeconds: number[] = [];
  const datakeepSeconds: number[] = [];
  let rawBytes = 0;
  let stored = 0;
  for (let round = 0; round < rounds; round += 1) {
    // Alternating order, so that neither side always runs on a warmer cache.
    const sides = round % 2 === 0 ? ['raw', 'datakeep'] : ['datakeep', 'raw'];
    for (const side of sides) {
      const started = process.hrtime.bigint();
      if (side === 'raw') {
        rawBytes = 0;
        for (const name of ['events', 'orders']) {
          const file = join(work, `raw-${round}-${name}.bson`);
          const cursor = db.collection(name).find({}, { raw: true, batchSize: 1000 }) as unknown as FindCursor<Buffer>;
          await pipeline(Readable.from(cursor), createWriteStream(file));
          rawBytes += statSync(file).size;
        }
        rawSeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
      } else {
        const repository = await initRepository(join(work, `repo-${round}`), { passphrase: PASSPHRASE, compression: 'zstd' });
        try {
          const result = await backupMongodb({ client, database: 'bench', id: 'bench', repository });
          stored = result.storedBytes;
        } finally {
          await repository.close();
        }
        datakeepSeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
      }
    }
  }
  const raw = median(rawSeconds);
  const dk = median(datakeepSeconds);
  console.log(machineNote([`FerretDB v1.24.2 (SQLite backend)`, `${documents} documents, ${(rawBytes / 2 ** 20).toFixed(1)} MiB of BSON`]));
  console.log(`raw driver dump (cursor to file): median ${raw.toFixed(2)} s of ${rawSeconds.map((s) => s.toFixed(2)).join(', ')}`);
  console.log(`datakeep backup (zstd, encrypted, repository): median ${dk.toFixed(2)} s of ${datakeepSeconds.map((s) => s.toFixed(2)).join(', ')}; stored ${(stored / 2 ** 20).toFixed(1)} MiB`);
  console.log(`ratio datakeep / raw dump: ${(dk / raw).toFixed(2)} (time)`);
} finally {
  await client.close();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
