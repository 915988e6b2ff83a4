import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MongoClient, type Timestamp } from 'mongodb';
import { DataManager } from '../../src/index.js';
import { CaptureWatch } from '../support/log-capture-watch.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { ferretdbBinary, ThrowawayFerretdb } from '../support/throwaway-ferretdb.js';

const NO_BINARY = 'no ferretdb binary (scripts/install-ferretdb.sh builds it; .ci/run runs that): the MongoDB log capture test did not run';
type Doc = { _id: string; batch: string };

/**
 * The continuous oplog capture (dm.backups.captures, MongoDB's captureLog) against FerretDB, whose "basic oplog" is a
 * capped local.oplog.rs made by hand (insert, update and delete entries; no replica set): the server is killed by PID
 * and restarted on the same data, the capture starts again on its own from the last stored slice (checking that the
 * oplog still holds it), and a restore to a second after the restart holds exactly the documents written up to it.
 * What FerretDB cannot show (a replica set's oplog with commands and transactions, elections) is covered by the
 * driver's contract only (docs/mongodb-backups.md).
 */
describe('MongoDB continuous oplog capture across a server kill and restart (FerretDB)', { skip: ferretdbBinary() ? false : NO_BINARY }, () => {
  let server: ThrowawayFerretdb;
  let stateDb: TestDatabase;
  let work: string;
  let destination: string;
  let passphraseFile: string;
  let dm: DataManager;
  const clients: MongoClient[] = [];
  const client = async () => {
    const c = new MongoClient(server.url, { serverSelectionTimeoutMS: 10_000 });
    clients.push(c);
    await c.connect();
    return c;
  };

  before(async () => {
    [server, stateDb] = await Promise.all([ThrowawayFerretdb.start({ name: 'mlogcap' }), createTestDatabase('dk_mlogcap_state')]);
    work = mkdtempSync(join(tmpdir(), 'dk-mlogcap-'));
    destination = join(work, 'backups');
    passphraseFile = join(work, 'passphrase');
    writeFileSync(passphraseFile, `mongodb log capture test ${process.pid}\n`, { mode: 0o600 });
    const raw = await client();
    await raw.db('local').createCollection('oplog.rs', { capped: true, size: 64 * 1024 * 1024 });
    await raw.db('ledger').collection<Doc>('entries').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: `base${i}`, batch: 'base' })));
    dm = new DataManager({ config: { databases: [{ url: server.url, database: 'ledger', id: 'ledger' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
  });
  after(async () => {
    await dm?.close();
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.stop();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('resumes after SIGKILL and restart, and a restore to a second after the restart holds exactly the documents up to it', async () => {
    await dm.createBackup({ type: 'full', destination, passphraseFile, compression: true, encryption: true, retention: { daily: 7 } });
    const capture = new CaptureWatch(dm, 'ledger', { destination, passphraseFile, intervalMs: 300 });
    let target = new Date(0);
    try {
      const insert = async (batch: string, n: number) => (await client()).db('ledger').collection<Doc>('entries').insertMany(Array.from({ length: n }, (_, i) => ({ _id: `${batch}${i}`, batch })));
      await capture.until((s) => s.status === 'running' && s.position !== undefined, 20_000, 'the capture tailing the oplog');
      await insert('P', 10);
      const before = await capture.caughtUp(20_000, 'the documents before the kill captured');
      await server.kill('SIGKILL');
      await capture.until((s) => s.status === 'retrying', 30_000, 'the capture failing once the server is gone');
      await server.restart();
      await insert('A', 10);
      // The oplog counts whole seconds: B is written once the clock has passed the second after the target.
      target = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
      while (Date.now() < target.getTime() + 1100) await new Promise((r) => setTimeout(r, 50));
      await insert('B', 5);
      await (await client()).db('ledger').collection<Doc>('entries').deleteOne({ _id: 'A0' });
      // Waits for the position of the newest oplog entry itself: FerretDB's tailing cursor can find nothing new for a
      // moment after an insert returned, so "caught up" alone does not prove the last entries are stored.
      const newest = await (await client()).db('local').collection('oplog.rs').find({}, { sort: { $natural: -1 }, limit: 1 }).next();
      const ts = newest!.ts as Timestamp;
      const reached = (p: string | undefined) => {
        const [t, i] = (p ?? '0.0').split('.').map(Number);
        return t! > ts.high || (t === ts.high && i! >= ts.low);
      };
      const after = await capture.until((s) => s.status === 'running' && reached(s.position), 30_000, `the oplog captured up to ${ts.high}.${ts.low}`);
      assert.ok(after.restarts >= 1, JSON.stringify(after));
      const [t0, i0] = before.position!.split('.').map(Number);
      const [t1, i1] = after.position!.split('.').map(Number);
      assert.ok(t1! > t0! || (t1 === t0 && i1! > i0!), `${after.position} after ${before.position}`);
    } finally {
      await capture.stop();
    }
    const [window] = await dm.backups.window('ledger', { destination, passphraseFile });
    assert.equal(window!.firstMissingWal, undefined, JSON.stringify(window));
    await dm.backups.restoreBackup(undefined, { destination, passphraseFile, target: { url: server.url, database: 'ledger_pitr' }, targetTime: target });
    const restored = await (await client()).db('ledger_pitr').collection<Doc>('entries').find({}).toArray();
    const counts = restored.reduce<Record<string, number>>((n, d) => ({ ...n, [d.batch]: (n[d.batch] ?? 0) + 1 }), {});
    assert.deepEqual(counts, { base: 20, P: 10, A: 10 });
  });
});
