#!/usr/bin/env node
// Entry point of the `datakeep` command. The compiled CLI lives in dist/ (built by `npm install` through `prepare`).
// Every command, `wal push|get` included, goes through the one command line: registering the commands loads nothing
// of the library, each command loads what it runs (PostgreSQL runs `wal push|get` once per WAL segment).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('datakeep: dist/ is missing; run "npm install" (or "npm run build") in the datakeep checkout first\n');
  process.exit(2);
}
const { runCli } = await import(main.href);
process.exitCode = await runCli(process.argv.slice(2));
