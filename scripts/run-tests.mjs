#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (TypeScript through tsx), streams the spec report, and ends
// with the one summary line CI reads: "N passed, N failed, N skipped". Arguments narrow the run to matching files.
//
// The tests make PostgreSQL run archive_command and restore_command lines that execute this checkout's files as the
// server's OS user (postgres). A checkout that user cannot read (under /root, or in a mktemp -d directory) would make
// every archiving test hang or fail obscurely, so such a checkout is first copied to a place that user can read.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const checkout = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const filters = process.argv.slice(2);
const SERVER_USER = 'postgres';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'support' ? [] : find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Why SERVER_USER cannot read the checkout, or undefined when it can (or when there is no such user to ask). */
function unreadableBecause(root) {
  if (process.getuid?.() !== 0) return undefined;
  if (spawnSync('id', ['-u', SERVER_USER], { stdio: 'ignore' }).status !== 0) return undefined;
  const probes = [['-r', join(root, 'package.json')], ['-x', join(root, 'src')], ['-x', join(root, 'node_modules')]];
  for (const [flag, path] of probes) {
    const result = spawnSync('runuser', ['-u', SERVER_USER, '--', 'test', flag, path], { stdio: 'ignore', cwd: '/' });
    // No runuser: nothing to check with.
    if (result.error) return undefined;
    if (result.status !== 0) return `the ${SERVER_USER} OS user cannot ${flag === '-r' ? 'read' : 'enter'} ${path}`;
  }
  return undefined;
}

/** Not needed to run the tests: history, and what runs leave behind (.gitignore). */
const NOT_COPIED = new Set(['.git', '.datakeep', 'tmp', 'coverage']);

/**
 * Copies the checkout (without .git) where SERVER_USER can read it: node_modules as hard links when the filesystem
 * allows (fast, no space), everything else as real copies made readable. Directories become 0755.
 */
function copyCheckout(root, copy) {
  rmSync(copy, { recursive: true, force: true });
  const run = (args) => spawnSync('cp', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  mkdirSync(copy);
  for (const name of readdirSync(root)) {
    if (NOT_COPIED.has(name)) continue;
    const from = join(root, name);
    const to = join(copy, name);
    if (name === 'node_modules' && run(['-al', from, to]).status === 0) continue;
    rmSync(to, { recursive: true, force: true });
    const result = run(['-a', from, to]);
    if (result.status !== 0) throw new Error(`cp -a ${from} ${to} failed: ${result.stderr}`);
  }
  makeReadable(copy);
}

function makeReadable(path) {
  const info = lstatSync(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) makeReadable(join(path, name));
    return;
  }
  if ((info.mode & 0o004) !== 0) return;
  // A hard link shares its mode with the checkout's file: give the copy a file of its own before changing it.
  if (info.nlink > 1) {
    copyFileSync(path, `${path}.datakeep-copy`);
    renameSync(`${path}.datakeep-copy`, path);
  }
  chmodSync(path, (info.mode & 0o7777) | 0o444 | ((info.mode & 0o100) !== 0 ? 0o111 : 0));
}

let root = checkout;
let copy;
let child;
// Interrupted: the test runner ends its files (and their clusters); the copy goes once it has exited. Registered
// before the copy, so that a signal during it waits for this handler instead of leaving the copy behind.
let interrupted;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted ??= sig;
    child?.kill(sig);
  });
}
const why = unreadableBecause(checkout);
if (why !== undefined) {
  copy = `/tmp/datakeep-test-checkout-${createHash('sha256').update(checkout).digest('hex').slice(0, 12)}`;
  console.log(`running the tests from a copy in ${copy}: ${why}, and PostgreSQL runs archive_command and restore_command as that user`);
  try {
    copyCheckout(checkout, copy);
  } catch (error) {
    rmSync(copy, { recursive: true, force: true });
    console.error(`cannot copy the checkout to ${copy} (${error.message}); move the checkout where the ${SERVER_USER} user can read it`);
    console.log('\n0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  const still = unreadableBecause(copy);
  if (still !== undefined) {
    rmSync(copy, { recursive: true, force: true });
    console.error(`the copy in ${copy} is not readable either (${still}); move the checkout where the ${SERVER_USER} user can read it`);
    console.log('\n0 passed, 1 failed, 0 skipped');
    process.exit(1);
  }
  root = copy;
}

function removeCopy() {
  if (copy !== undefined) rmSync(copy, { recursive: true, force: true });
}

/**
 * The files that take longest (the slowest-files report of CI runs), started first: the runner starts files in the
 * order given, so a long file started last would run alone at the end while the other slots sit idle.
 */
const SLOW_FIRST = [
  'test/backup/pitr-defects-2.test.ts',
  'test/backup/pitr-property.test.ts',
  'test/backup/pitr-defects-1.test.ts',
  'test/backup/pitr-defects-3.test.ts',
  'test/backup/mongodb-backup.test.ts',
  'test/backup/wal-prefetch.test.ts',
  'test/backup/postgres-backup-safety.test.ts',
  'test/replication/replication-cli.test.ts',
  'test/monitoring/system-validation.test.ts',
  'test/lifecycle/mariadb-lifecycle-crash.test.ts',
  'test/lifecycle/redis-lifecycle-crash.test.ts',
];
const rank = (f) => (SLOW_FIRST.includes(f) ? SLOW_FIRST.indexOf(f) : SLOW_FIRST.length);
const files = find(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
if (files.length === 0) {
  removeCopy();
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}

/** The newest modification time (ms) of the files under `dir` with one of `suffixes`, 0 when there are none. */
function newestMtime(dir, suffixes) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const info = statSync(path);
    if (info.isDirectory()) newest = Math.max(newest, newestMtime(path, suffixes));
    else if (suffixes.some((s) => name.endsWith(s))) newest = Math.max(newest, info.mtimeMs);
  }
  return newest;
}

/**
 * PostgreSQL runs datakeep's CLI once per WAL segment (archive_command, restore_command); compiled, it starts in 0.2 s
 * instead of tsx's 0.6 s, which is minutes over the suite. dist/ is rebuilt when a source is newer than it, so that
 * the command PostgreSQL runs is the code under test; if the build fails, the tests run the sources through tsx.
 */
function compiledCli(dir) {
  // The service serves the dashboard from dist/server/dashboard once a build has copied it there: copy it again on
  // every run (a few small files), so that a test never sees an older page than src/ holds.
  const copyDashboard = join(dir, 'scripts', 'copy-dashboard.mjs');
  if (existsSync(copyDashboard)) spawnSync(process.execPath, [copyDashboard], { cwd: dir, stdio: 'inherit' });
  const entry = join(dir, 'dist', 'cli', 'main.js');
  let built = 0;
  try {
    built = statSync(entry).mtimeMs;
  } catch {
    // Not built yet.
  }
  const sources = Math.max(newestMtime(join(dir, 'src'), ['.ts', '.json']), statSync(join(dir, 'tsconfig.build.json')).mtimeMs);
  if (built > sources) return true;
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status === 0) return true;
  console.error(`building dist/ failed, so the server-run commands use the sources through tsx (slower):\n${result.stdout}${result.stderr}`);
  return false;
}

/**
 * The MongoDB suites read MONGODB_URL. When it is not set and a selected file uses it, one FerretDB (MongoDB's wire
 * protocol on SQLite, installed by .ci/run with `go install`) is started for the whole run and stopped at its end: each
 * suite works in a database of its own, so they can share it. No binary: the suites skip and say why. A binary that
 * does not start fails the run (CI installed it to be used).
 */
async function startMongodbForTests(dir, selected) {
  if (process.env.MONGODB_URL || process.env.DATAKEEP_TEST_NO_FERRETDB) return undefined;
  if (!selected.some((f) => readFileSync(join(dir, f), 'utf8').includes('MONGODB_URL'))) return undefined;
  const { tsImport } = await import('tsx/esm/api');
  const support = await tsImport(join(dir, 'test', 'support', 'throwaway-ferretdb.ts'), import.meta.url);
  if (support.ferretdbBinary() === undefined) {
    console.log('no ferretdb binary (.ci/run installs it with go install): the MongoDB suites skip');
    return undefined;
  }
  const server = await support.ThrowawayFerretdb.start({ name: 'ferretdb-tests' });
  console.log(`MongoDB suites run against FerretDB ${server.url} (pid ${server.pid}); set MONGODB_URL to use another server`);
  return server;
}

let mongodb;
try {
  mongodb = await startMongodbForTests(root, files);
} catch (error) {
  removeCopy();
  console.error(`cannot start FerretDB for the MongoDB suites: ${error.message}`);
  console.log('\n0 passed, 1 failed, 0 skipped');
  process.exit(1);
}

const concurrency = process.env.DATAKEEP_TEST_CONCURRENCY ?? '4';
const compiled = compiledCli(root);
child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${join(checkout, 'scripts', 'slowest-files-reporter.mjs')}`, '--test-reporter-destination=stderr', ...files],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1', ...(compiled ? { DATAKEEP_COMMAND_LINE_COMPILED: '1' } : {}), ...(mongodb ? { MONGODB_URL: mongodb.url } : {}) } },
);
// The runner's totals ("ℹ pass N" ...) come before its recap of failures, which can be long: remember each total as
// its line goes by instead of searching the end of the output.
const totals = {};
let partial = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const lines = (partial + chunk.toString()).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) {
    const match = /^ℹ (pass|fail|cancelled|skipped|todo) (\d+)\s*$/.exec(line);
    if (match) totals[match[1]] = Number(match[2]);
  }
});
child.on('close', async (code) => {
  await mongodb?.stop();
  removeCopy();
  const count = (label) => totals[label] ?? 0;
  const passed = count('pass');
  // A runner that failed without counting a failed test (a file that does not load, a crash) still fails the line.
  const failed = count('fail') + count('cancelled') || (code === 0 ? 0 : 1);
  const skipped = count('skipped') + count('todo');
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(interrupted ? 128 + (interrupted === 'SIGINT' ? 2 : 15) : (code ?? 1));
});
