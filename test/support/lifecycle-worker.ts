// A separate process that runs the lifecycle policies of a config once (the SIGKILL tests kill it mid-run).
// argv: CONFIG_JSON (a DatakeepConfig whose "lifecycle" section holds the policies). Prints one JSON line at the end.
import { DataManager } from '../../src/index.js';

const config = JSON.parse(process.argv[2]!);
const dm = new DataManager({ config });
try {
  await dm.initialize();
  const results = await dm.lifecycle.run();
  process.stdout.write(`${JSON.stringify({ ok: true, results })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, message: (error as Error).message })}\n`);
  process.exitCode = 1;
} finally {
  await dm.close();
}
