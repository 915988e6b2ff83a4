// Copies the dashboard's static files next to the compiled server (tsc copies only what it compiles), so that an
// installed datakeep (which ships dist/ and not src/) serves it. The service also finds src/server/dashboard itself.
import { cpSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../src/server/dashboard/', import.meta.url));
const to = fileURLToPath(new URL('../dist/server/dashboard/', import.meta.url));
if (existsSync(from)) cpSync(from, to, { recursive: true });
