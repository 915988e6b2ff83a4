// The failover benchmark's writer, datakeep's counterpart of the anchor's writer.py: a DataManager that follows the
// authority's record (automaticFailover false) and INSERTs one new id every ~10 ms through dm.execute. Each attempt
// takes the next id, acknowledged or not, and leaves one line in the log file:
//   A <epoch s> <id>                          acknowledged
//   E <epoch s> <id> <error name> <mayHaveCommitted>   failed
// With "plain": true in the spec it skips setupReplication (the harness's self-check, before the API exists).
import { openSync, writeSync } from 'node:fs';
import { DataManager } from '../../src/index.js';
import { openMember, parseSpec } from './failover-spec.js';

const spec = parseSpec(process.argv[2]);
const log = openSync(process.argv[3] ?? '/dev/null', 'a');
const line = (text: string) => writeSync(log, `${text}\n`);
const now = () => (Date.now() / 1000).toFixed(3);
let stopped = false;
process.once('SIGTERM', () => {
  stopped = true;
  // A statement stuck on a dead server must not keep the writer alive past the benchmark's teardown.
  setTimeout(() => process.exit(0), 5000).unref();
});

let dm: DataManager;
try {
  if ((spec as { plain?: boolean }).plain) {
    dm = new DataManager({ config: { databases: [{ type: 'postgresql', host: '127.0.0.1', port: spec.primary.port, database: 'postgres', username: 'postgres' }], state: { dir: spec.stateDir }, logLevel: 'error' } });
    await dm.initialize();
  } else {
    dm = await openMember(spec, 120_000);
  }
} catch (error) {
  process.stderr.write(`writer failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
process.stdout.write('ready\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (let id = 1; !stopped; id += 1) {
  try {
    await dm.execute('INSERT INTO t(id) VALUES (?)', [id]);
    line(`A ${now()} ${id}`);
  } catch (error) {
    const e = error as Error & { mayHaveCommitted?: boolean };
    line(`E ${now()} ${id} ${e.name} ${String(e.mayHaveCommitted ?? '-')}`);
  }
  await sleep(10);
}
const forced = setTimeout(() => process.exit(2), 10_000);
await dm.close().catch(() => undefined);
clearTimeout(forced);
process.exit(0);
