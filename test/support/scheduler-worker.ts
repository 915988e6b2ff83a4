// A datakeep process that schedules one job every second for a while. argv: STATE_URL JOB_NAME SECONDS
import { StateStore } from '../../src/state/state-store.js';
import { JobScheduler } from '../../src/scheduler/job-scheduler.js';
import { silentLogger } from '../../src/util/logger.js';

const [stateUrl, job, seconds] = process.argv.slice(2);
const store = await StateStore.open({ url: stateUrl!, dir: '' }, silentLogger);
const scheduler = new JobScheduler(async () => store, silentLogger);
await scheduler.schedule({
  name: job!,
  kind: 'test',
  cron: '* * * * * *',
  config: {},
  missedRunPolicy: 'skip',
  run: async () => {
    await store.adapter.execute('INSERT INTO sched_effects (job, pid) VALUES (?, ?)', [job, process.pid]);
    await new Promise((r) => setTimeout(r, 300));
    return { pid: process.pid };
  },
});
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
await scheduler.stop();
await new Promise((r) => setTimeout(r, 500));
await store.close();
