#!/usr/bin/env node
// Entry point of the `datakeep` command. The compiled CLI lives in dist/ (built by `npm install` through `prepare`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('datakeep: dist/ is missing; run "npm install" (or "npm run build") in the datakeep checkout first\n');
  process.exit(2);
}
const { runCli } = await import(entry.href);
process.exitCode = await runCli(process.argv.slice(2));
