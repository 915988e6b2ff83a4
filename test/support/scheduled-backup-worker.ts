// A datakeep process that schedules backups every 2 seconds for a while (two of these share one state store).
// argv: CLUSTER_CONFIG_JSON STATE_URL DESTINATION SECONDS
import { DataManager } from '../../src/index.js';

const [clusterJson, stateUrl, destination, seconds] = process.argv.slice(2);
const dm = new DataManager({ config: { databases: [{ ...JSON.parse(clusterJson!), id: 'app' }], state: { url: stateUrl! }, logLevel: 'error' } });
await dm.initialize();
try {
  await dm.setupBackups({ type: 'incremental', destination: destination!, compression: true, encryption: true, retention: { daily: 30 }, schedule: '*/2 * * * * *', missedRunPolicy: 'skip' });
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
} finally {
  await dm.close();
}
