#!/usr/bin/env node
// Entry point of the `datakeep` command. The compiled CLI lives in dist/ (built by `npm install` through `prepare`).
import { existsSync } from 'node:fs';

const dist = new URL('../dist', import.meta.url);
if (!existsSync(new URL('cli/main.js', dist))) {
  process.stderr.write('datakeep: dist/ is missing; run "npm install" (or "npm run build") in the datakeep checkout first\n');
  process.exit(2);
}
if (process.argv[2] === 'wal') {
  // PostgreSQL runs `wal push|get` once per WAL segment: load only the WAL command, not the whole CLI.
  const { runWalCommand } = await import(new URL('backup/postgres/wal-command.js', dist).href);
  process.exitCode = await runWalCommand(process.argv.slice(3));
} else {
  const { runCli } = await import(new URL('cli/main.js', dist).href);
  process.exitCode = await runCli(process.argv.slice(2));
}
