// The application load of bench/lifecycle.ts, in a process of its own so that datakeep's work in the benchmark's
// process never delays (and so never inflates) the latencies measured here. A writer inserts and a reader runs point
// queries, each at a steady rate; every latency is kept with the phase it fell in. Phases come on stdin, one word
// per line ("baseline", "run", "stop"); at "stop" it prints {phase: {writer: [ms...], reader: [ms...]}} and exits.
import { createInterface } from 'node:readline';
import pg from 'pg';

const [url, table, rateArg, maxIdArg] = process.argv.slice(2);
const rate = Number(rateArg ?? 200);
const maxId = Number(maxIdArg ?? 1_000_000);
const writer = new pg.Client({ connectionString: url });
const reader = new pg.Client({ connectionString: url });
await Promise.all([writer.connect(), reader.connect()]);
let phase = 'warmup';
let stopped = false;
const samples: Record<string, { writer: number[]; reader: number[] }> = {};
const record = (who: 'writer' | 'reader', ms: number) => {
  (samples[phase] ??= { writer: [], reader: [] })[who].push(ms);
};

async function loop(who: 'writer' | 'reader', work: () => Promise<unknown>): Promise<void> {
  const interval = 1000 / rate;
  let next = performance.now();
  while (!stopped) {
    const started = performance.now();
    await work();
    record(who, performance.now() - started);
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else next = performance.now();
  }
}

const loops = [
  loop('writer', () => writer.query(`INSERT INTO ${table} (created_at, payload) VALUES (now(), repeat('w', 100))`)),
  loop('reader', () => reader.query(`SELECT id, payload FROM ${table} WHERE id = $1`, [1 + Math.floor(Math.random() * maxId)])),
];
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stop') break;
  phase = line.trim();
}
stopped = true;
await Promise.all(loops);
await Promise.all([writer.end(), reader.end()]);
// stdin stays open (the parent's pipe): exit explicitly once the figures are out.
process.stdout.write(`${JSON.stringify(samples)}\n`, () => process.exit(0));
