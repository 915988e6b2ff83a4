// Runs the CLI from sources (see datakeep-command-line.ts); the installed entry point is bin/datakeep.js.
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2));
