// A datakeep instance that watches a replicated database (dm.setupReplication with an etcd authority and
// automaticFailover), for the automatic failover tests, which SIGKILL it as a crashed instance. argv: JSON
// {holder, config: DatakeepConfig}. Prints one JSON event a line on stdout, each with `t` (Date.now()):
//   {event: 'ready', primary}               setupReplication returned
//   {event: 'leader', leader}               whenever its hold of the lease changes
//   {event: 'replication', kind, outcome, from, to, epoch, steps}   each replication event it ran
// A line {"cmd": "exit"} on stdin makes it stop (resigning the lease) and exit.
import { createInterface } from 'node:readline';
import { DataManager, type DatakeepConfig } from '../../src/index.js';

const input = JSON.parse(process.argv[2]!) as { holder: string; config: DatakeepConfig };
const emit = (event: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);

const dm = new DataManager({ config: input.config });
await dm.initialize();
const result = await dm.setupReplication({ ...input.config.replication!, automaticFailover: true });
emit('ready', { primary: result.primary });

let leader = false;
let seen = 0;
const timer = setInterval(() => {
  const now = dm.replication.leading();
  if (now !== leader) emit('leader', { leader: (leader = now) });
  const events = dm.replication.events();
  for (const e of events.slice(seen)) if (e.kind !== 'setup') emit('replication', { kind: e.kind, outcome: e.outcome, from: e.from, to: e.to, epoch: e.epoch, error: e.error, steps: e.steps, warnings: e.warnings });
  seen = events.length;
}, 20);

createInterface({ input: process.stdin }).on('line', (line) => {
  if ((JSON.parse(line) as { cmd: string }).cmd !== 'exit') return;
  clearInterval(timer);
  void dm.close().finally(() => process.exit(0));
});
