import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.woff2': 'font/woff2', '.map': 'application/json',
};

/**
 * The dashboard's directory: beside this module (src/server/dashboard when run from the sources, dist/server/dashboard
 * when the build copied it), else the sources' copy next to dist/ (a build made by tsc alone copies no static files).
 */
export function dashboardDirectory(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, 'dashboard'), resolve(here, '..', '..', 'src', 'server', 'dashboard')];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
}

/**
 * A file of the dashboard for a request path below `/dashboard/` (or `/`, which is index.html), with its content type;
 * undefined when there is none. Paths that leave the directory (`..`, encoded or not) are refused.
 */
export function dashboardFile(dir: string, path: string): { body: Buffer; type: string } | undefined {
  let relativePath: string;
  try {
    relativePath = decodeURIComponent(path === '/' || path === '/dashboard' || path === '/dashboard/' ? 'index.html' : path.replace(/^\/dashboard\//, ''));
  } catch {
    return undefined;
  }
  const file = resolve(dir, relativePath);
  const inside = relative(dir, file);
  if (inside.startsWith('..') || inside.startsWith(sep) || inside === '') return undefined;
  if (!existsSync(file) || !statSync(file).isFile()) return undefined;
  return { body: readFileSync(file), type: TYPES[extname(file)] ?? 'application/octet-stream' };
}
