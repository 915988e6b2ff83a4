import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';

// The dashboard in a real browser (Debian's chromium driven by playwright-core) against `datakeep serve` running as a
// process over real servers: a throwaway PostgreSQL that archives its WAL, prepares transactions and loads
// pg_stat_statements (the machine's own PostgreSQL does none of that), a database on the machine's PostgreSQL, Redis,
// and a state store on PostgreSQL shared with the CLI. Every expectation is read from the API or the servers, never
// written into the test.
const CHROMIUM = process.env.DATAKEEP_TEST_CHROMIUM ?? '/usr/bin/chromium';
const WAIT_MS = 30_000;

type Json = Record<string, unknown>;

// Without the browser, one test reports itself skipped with the reason (CI installs chromium, so it runs there).
const missing = existsSync(CHROMIUM) ? undefined : `no chromium at ${CHROMIUM}: apt-get install chromium (or set DATAKEEP_TEST_CHROMIUM) to run the browser test`;
if (missing) it('dashboard in a real browser', { skip: missing }, () => {});
else describe('dashboard in a real browser', () => {
  let cluster: ThrowawayPostgres;
  let work: string;
  let app: TestDatabase;
  let stateDb: TestDatabase;
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  let shots: string;
  let adminToken: string;
  let viewerToken: string;
  const gid = `dk_dashboard_test_${process.pid}`;

  /** The API as a test client sees it (Node's fetch, the token in the header). */
  async function api<T = unknown>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${serve.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
  const read = async <T = unknown>(path: string): Promise<T> => {
    const answer = await api<T>(adminToken, 'GET', path);
    assert.equal(answer.status, 200, `GET ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };

  /** Polls GET /api/v1/jobs/ID until the job has finished (bounded); the job as the API shows it. */
  async function waitForJob(jobId: string, limitMs: number): Promise<Json> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const job = await read<Json>(`/api/v1/jobs/${jobId}`);
      if (!/^(queued|running)$/.test(String(job.status))) return job;
      if (Date.now() > deadline) assert.fail(`job ${jobId} still ${String(job.status)} after ${limitMs / 1000} s: ${JSON.stringify(job)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Waits (bounded) until a panel's text contains `text`, pressing Refresh between looks. */
  async function panelShows(panel: string, text: string): Promise<void> {
    const locator = page.locator(`#panel-${panel}`);
    const deadline = Date.now() + WAIT_MS;
    while (!((await locator.innerText()).includes(text))) {
      if (Date.now() > deadline) assert.fail(`panel ${panel} never showed "${text}"; it shows:\n${await locator.innerText()}`);
      await page.click('#refresh');
      await page.waitForTimeout(300);
    }
  }

  async function logIn(token: string): Promise<void> {
    await page.goto(serve.url);
    // Logged out, the page shows the form and nothing of the service.
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#panels').isVisible(), false, 'panels visible before logging in');
    await page.locator('#token').fill(token);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#panels').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#login').isVisible(), false, 'login form still visible after logging in');
  }

  async function screenshot(name: string): Promise<void> {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
  }

  before(async () => {
    const [started, appDb, state] = await Promise.all([
      startBackupCluster('dashboard', 'main', { config: ['max_prepared_transactions = 5', 'shared_preload_libraries = pg_stat_statements'] }),
      createTestDatabase('dk_dash_app'),
      createTestDatabase('dk_dash_state'),
    ]);
    ({ cluster, work } = started);
    app = appDb;
    stateDb = state;
    await cluster.query('CREATE EXTENSION pg_stat_statements');
    shots = mkdtempSync(join(tmpdir(), 'dk-dashboard-shots-'));
    const configFile = join(work, 'datakeep.json');
    writeFileSync(configFile, JSON.stringify({
      databases: [{ ...cluster.config, id: 'main' }, { ...app.config, id: 'app' }, { type: 'redis', host: '127.0.0.1', port: 6379, id: 'cache' }],
      state: { url: stateDb.url },
      // Only main archives its WAL (the machine's PostgreSQL does not), so only main is backed up.
      backups: { destination: join(work, 'backups'), passphraseFile: join(work, 'passphrase'), schedule: '0 3 * * *', databases: ['main'] },
      server: { host: '127.0.0.1' },
    }, null, 2));
    serve = await startServe(configFile, { cwd: work, waitForToken: true });
    [viewerToken, browser] = await Promise.all([
      serve.waitReady(WAIT_MS).then(() => createToken(configFile, work, 'dashboard-viewer', 'viewer')),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] }),
    ]);
    adminToken = serve.adminToken!;
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(WAIT_MS);
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    await cluster?.query(`ROLLBACK PREPARED '${gid}'`).catch(() => undefined);
    await cluster?.destroy();
    await app?.drop();
    await stateDb?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
    // The screenshots stay for a person to look at; they are in the temp directory, never in the checkout.
  });

  it('logs in with the admin token and shows every database with the health the API reports', async () => {
    await logIn(adminToken);
    const who = await read<{ name: string; role: string }>('/api/v1/whoami');
    assert.equal(await page.locator('#who-name').innerText(), who.name);
    assert.equal(await page.locator('#who-role').innerText(), 'admin');
    const databases = await read<{ id: string; type: string }[]>('/api/v1/databases');
    assert.deepEqual(databases.map((d) => d.id).sort(), ['app', 'cache', 'main']);
    const rows = page.locator('#panel-databases tbody tr');
    await rows.first().waitFor();
    for (const db of databases) {
      const row = rows.filter({ hasText: db.id }).first();
      assert.match(await row.innerText(), new RegExp(db.type));
    }
    const health = await read<Json>('/api/v1/health');
    for (const db of databases) {
      const status = ((health[db.id] ?? (health as { databases?: Json }).databases?.[db.id]) as { status?: string } | undefined)?.status;
      if (status) assert.match(await rows.filter({ hasText: db.id }).first().innerText(), new RegExp(status));
    }
  });

  it('runs a backup from the page, follows its job, and lists the backup and its recoverability window', async () => {
    // Every text the live line shows, to check afterwards that the job's progress streamed in while it ran.
    // (A string: the test is compiled without the DOM's types.)
    await page.evaluate(`{
      const line = document.getElementById('job-live');
      window.liveLines = [];
      new MutationObserver(() => window.liveLines.push(line.textContent)).observe(line, { childList: true, characterData: true, subtree: true });
    }`);
    await page.locator('#backup-database').selectOption('main');
    await page.click('#run-backup');
    const started = page.locator('#panel-backups .panel-message');
    await started.filter({ hasText: 'started as job' }).waitFor();
    const jobId = /job (\S+?)\.$/.exec(await started.innerText())?.[1];
    assert.ok(jobId, `no job id in "${await started.innerText()}"`);
    const job = await waitForJob(jobId, WAIT_MS * 2);
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    const backups = await read<{ backupId: string; database: string }[]>('/api/v1/backups');
    const backup = backups.find((b) => b.database === 'main');
    assert.ok(backup, `no backup of main in ${JSON.stringify(backups)}`);
    // The live line got the job's events from its SSE stream: progress while it ran, then how it ended.
    await page.locator('#job-live').filter({ hasText: `job ${jobId}: succeeded · backup ${backup.backupId}` }).waitFor();
    const lines = (await page.evaluate('window.liveLines')) as string[];
    assert.ok(lines.some((l) => l.startsWith(`job ${jobId}: main · `) && /copying|checking-archive|waiting-for-wal|completing/.test(l)), `no progress line among:\n${lines.join('\n')}`);
    await panelShows('backups', backup.backupId);
    await panelShows('jobs', jobId);
    const windows = await read<{ database: string; to?: { segment: string } }[]>('/api/v1/backups/window');
    const window = windows.find((w) => w.database === 'main');
    assert.ok(window?.to, `no window for main: ${JSON.stringify(windows)}`);
    await panelShows('windows', window.to.segment);
  });

  it('shows a prepared transaction on the server as in doubt', async () => {
    const client = new pg.Client({ host: cluster.config.host, port: cluster.config.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TABLE dashboard_doubt (id int)');
      await client.query(`PREPARE TRANSACTION '${gid}'`);
    } finally {
      await client.end();
    }
    await panelShows('transactions', gid);
    assert.match(await page.locator('#panel-transactions').innerText(), /1 transaction in doubt/);
  });

  it('shows the slowest statements of each database, or why there are none', async () => {
    // Slow enough to be among the top statements the panel shows (by total time).
    for (let i = 0; i < 3; i++) await cluster.query("SELECT pg_sleep(0.1), 'dashboard statement probe' AS label");
    const answer = await read<{ available: boolean; statements?: { query: string }[] }>('/api/v1/statements?database=main');
    assert.equal(answer.available, true, JSON.stringify(answer));
    const probe = answer.statements!.find((s) => s.query.includes('pg_sleep'));
    assert.ok(probe, 'the probe statement is not in the API answer');
    await panelShows('statements', probe.query.slice(0, 40));
    const redis = await read<{ available: boolean; reason: string }>('/api/v1/statements?database=cache');
    assert.equal(redis.available, false);
    assert.match(await page.locator('#panel-statements [data-database="cache"]').innerText(), new RegExp(redis.reason.slice(0, 30)));
  });

  it('shows the validation checks, schedules, latency, the audit log, and "not configured" for what is not set up', async () => {
    const validation = await read<{ checks: { name: string }[] }>('/api/v1/validation');
    assert.ok(validation.checks.length > 0);
    for (const check of validation.checks) await panelShows('validation', check.name);
    const schedules = await read<{ name: string }[]>('/api/v1/schedules');
    for (const schedule of schedules) await panelShows('schedules', schedule.name);
    for (const [panel, path] of [['lifecycle', '/api/v1/lifecycle'], ['replication', '/api/v1/replication'], ['migrations', '/api/v1/migrations']] as const) {
      const answer = await read<unknown>(path);
      if (Array.isArray(answer) && answer.length === 0) await panelShows(panel, 'no ');
      else if ((answer as Json).configured === false) await panelShows(panel, 'not configured');
      else assert.fail(`${path} answered ${JSON.stringify(answer)}: this setup configures none of it`);
    }
    for (const db of await read<{ id: string }[]>('/api/v1/databases')) await panelShows('latency', db.id);
    // The backup the page started is in the audit log, under the token's name.
    const audit = await read<{ action: string; actor: string }[]>('/api/v1/audit');
    const entry = audit.find((e) => e.action === 'backup.create');
    assert.ok(entry, `no backup.create in ${JSON.stringify(audit)}`);
    await panelShows('audit', 'backup.create');
    await panelShows('audit', entry.actor);
    await screenshot('admin');
  });

  it('refuses a restore to a viewer: the 403 message shows and no restore job exists', async () => {
    await page.click('#logout');
    assert.equal(await page.locator('#panels').isVisible(), false, 'panels still visible after logging out');
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'the token stayed in sessionStorage after logging out');
    await logIn(viewerToken);
    assert.equal(await page.locator('#who-role').innerText(), 'viewer');
    const [backup] = await read<{ backupId: string }[]>('/api/v1/backups');
    const to = join(work, 'restore-by-viewer');
    await page.locator('#restore-backup').selectOption(backup!.backupId);
    await page.locator('#restore-to').fill(to);
    await page.click('#restore');
    const message = page.locator('#panel-backups .panel-message.error');
    await message.waitFor();
    // The same request straight to the API: the page must show the service's own words.
    const refusal = await api<{ error: { message: string } }>(viewerToken, 'POST', `/api/v1/backups/${backup!.backupId}/restore`, { to });
    assert.equal(refusal.status, 403);
    assert.ok((await message.innerText()).includes(refusal.body.error.message), `page says "${await message.innerText()}", API says "${refusal.body.error.message}"`);
    const jobs = await read<Json[]>('/api/v1/jobs');
    assert.deepEqual(jobs.filter((j) => /restore/i.test(String(j.kind ?? j.type))), []);
    assert.equal(existsSync(to), false, 'the refused restore wrote its directory');
    await screenshot('viewer-refused');
    // Nor may a viewer start a backup (operator).
    await page.click('#run-backup');
    await message.filter({ hasText: 'Backup refused' }).waitFor();
    assert.equal((await read<Json[]>('/api/v1/jobs')).length, jobs.length, 'a viewer started a job');
  });

  it('returns to the login form, saying why, when the token is revoked while the page is open', async () => {
    const revoked = await api(adminToken, 'POST', '/api/v1/tokens/dashboard-viewer/revoke', {});
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const refused = await api<{ error: { message: string } }>(viewerToken, 'GET', '/api/v1/whoami');
    assert.equal(refused.status, 401);
    await page.click('#refresh');
    await page.locator('#login').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#panels').isVisible(), false);
    const because = refused.body.error.message;
    assert.equal(await page.locator('#login-error').innerText(), `Logged out: ${because}`);
    // Logging in again with it is refused, in the service's words: the revoked token's, or the rate limit's (every
    // panel's refused request counted as a failed attempt).
    await page.locator('#token').fill(viewerToken);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#login-error').filter({ hasText: /^Could not log in: / }).waitFor();
    const again = await api<{ error: { message: string } }>(viewerToken, 'GET', '/api/v1/whoami');
    assert.ok([401, 429].includes(again.status), `whoami with a revoked token: ${again.status}`);
    assert.match(await page.locator('#login-error').innerText(), again.status === 401 ? new RegExp(`: ${because}$`) : /too many failed authentication attempts/);
    assert.equal(await page.locator('#panels').isVisible(), false);
  });
});

/** `datakeep token create` as a user runs it, beside the running service (they share the state store): the token. */
async function createToken(configFile: string, cwd: string, name: string, role: string): Promise<string> {
  const [node, ...args] = datakeepCommandLine();
  const child = spawn(node!, [...args, '--json', 'token', 'create', '--name', name, '--role', role, '--config', configFile], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  const token = code === 0 ? (JSON.parse(out) as { token?: unknown }).token : undefined;
  if (typeof token !== 'string') assert.fail(`datakeep token create exited ${code} without a token:\n${out}`);
  return token;
}
