// One datakeep watcher of the failover benchmark: a DataManager with replication set up for automatic failover
// through the etcd authority (it campaigns for the lease and watches the primary). Prints "ready" once
// setupReplication returns; on SIGTERM it closes (resigning the lease) and exits.
import { openMember, parseSpec } from './failover-spec.js';

const spec = parseSpec(process.argv[2]);
try {
  const dm = await openMember(spec, 240_000);
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    const forced = setTimeout(() => process.exit(2), 10_000);
    void dm.close().finally(() => {
      clearTimeout(forced);
      process.exit(0);
    });
  });
  // Keeps the event loop alive until SIGTERM whatever the library leaves scheduled.
  setInterval(() => undefined, 60_000);
} catch (error) {
  process.stderr.write(`watcher failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
}
