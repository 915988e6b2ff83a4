// A node:test reporter run beside the spec reporter (scripts/run-tests.mjs): at the end, the ten test files that took
// longest, so that whoever keeps CI under its time budget knows where the time goes.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';

export default async function* slowestFiles(source) {
  const files = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file) {
      const file = relative(process.cwd(), event.data.file);
      files.set(file, (files.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  // DATAKEEP_TEST_TIMES=FILE: every file's time, slowest first, for whoever reorders or trims the suite.
  if (process.env.DATAKEEP_TEST_TIMES) writeFileSync(process.env.DATAKEEP_TEST_TIMES, JSON.stringify([...files].sort((a, b) => b[1] - a[1]), null, 1));
  const slowest = [...files].sort((a, b) => b[1] - a[1]).slice(0, 10);
  if (slowest.length > 1) yield `slowest test files:\n${slowest.map(([f, ms]) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${f}`).join('\n')}\n`;
}
