import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runCliCaptured } from '../support/cli-run.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import { StateStore } from '../../src/state/state-store.js';
import { silentLogger } from '../../src/util/logger.js';

/** The state store's schema lock (src/state/state-store.ts): held by the test, it keeps the service from being ready. */
const SCHEMA_LOCK_KEY = 0x646b_7374;

/** Every GET route of the contract, readable with a viewer token. */
const VIEWER_GETS = [
  '/api/v1/whoami', '/api/v1/health', '/api/v1/databases', '/api/v1/backups', '/api/v1/backups/window', '/api/v1/schedules',
  '/api/v1/migrations', '/api/v1/migrations/plan', '/api/v1/transactions', '/api/v1/lifecycle', '/api/v1/replication',
  '/api/v1/jobs', '/api/v1/audit', '/api/v1/validation', '/api/v1/statements?database=app', '/metrics', '/openapi.json',
];

describe('datakeep serve: routes, roles, tokens, audit (a real process on PostgreSQL)', () => {
  let app: TestDatabase;
  let stateDb: TestDatabase;
  let work: string;
  let configFile: string;
  let serve: ServeProcess;
  let admin: string;
  let viewer: string;
  let operator: string;

  before(async () => {
    [app, stateDb] = await Promise.all([createTestDatabase('dk_serve'), createTestDatabase('dk_serve_state')]);
    work = mkdtempSync(join(tmpdir(), 'dk-serve-'));
    mkdirSync(join(work, 'migrations'));
    writeFileSync(join(work, 'migrations', '20240101000000_create_notes.sql'), '-- migrate:up\nCREATE TABLE notes (id int PRIMARY KEY);\n-- migrate:down\nDROP TABLE notes;\n');
    configFile = join(work, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({
      databases: [{ ...app.config, id: 'app' }], state: { url: stateDb.url }, logLevel: 'info',
      migrations: { directory: join(work, 'migrations') }, server: { shutdownTimeout: 5, requestsPerSecond: 50 },
    }));
  });
  after(async () => {
    await serve?.stop('SIGKILL').catch(() => undefined);
    await Promise.all([app?.drop(), stateDb?.drop()]);
    rmSync(work, { recursive: true, force: true });
  });

  it('answers /livez at once, and /readyz 503 with the reason until the state store is open, then 200', async () => {
    const holder = new pg.Client({ connectionString: stateDb.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK_KEY]);
      serve = await startServe(configFile, { cwd: work });
      assert.equal((await serve.request('/livez')).status, 200);
      const notReady = await serve.request('/readyz');
      assert.equal(notReady.status, 503);
      assert.match(((await notReady.json()) as { reason: string }).reason, /state store/);
      const early = await serve.request('/api/v1/whoami', { token: 'dk_x' });
      assert.equal(early.status, 503, 'the API waits for readiness too');
      await holder.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK_KEY]);
    } finally {
      await holder.end();
    }
    await serve.waitReady();
    assert.equal((await serve.request('/readyz')).status, 200);
    assert.match(serve.adminToken ?? '', /^dk_[A-Za-z0-9_-]{43}$/, 'the first admin token is printed once');
    admin = serve.adminToken!;
    assert.equal(serve.stdout.filter((l) => l.includes(admin)).length, 1, 'the token appears on one line only, never in a log line');
  });

  it('refuses requests without a token or with a bad one (401, WWW-Authenticate: Bearer)', async () => {
    for (const token of [undefined, 'dk_' + 'A'.repeat(43), 'not-a-token']) {
      const res = await serve.request('/api/v1/health', { token });
      assert.equal(res.status, 401, `token ${token}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'unauthorized');
    }
    assert.equal((await serve.request('/metrics')).status, 401, '/metrics needs a token');
    assert.equal((await serve.request('/openapi.json')).status, 401, 'so does the OpenAPI document');
    assert.equal((await serve.request('/')).status, 200, 'the dashboard shell is served without one');
  });

  it('creates tokens with the CLI while the service runs (shared state store); token list never shows a token', async () => {
    const make = async (name: string, role: string) => {
      const { code, io } = await runCliCaptured(['token', 'create', '--name', name, '--role', role], configFile);
      assert.equal(code, 0, io.stderr.join('\n'));
      return io.stdout.find((l) => l.startsWith('dk_'))!;
    };
    viewer = await make('viewer1', 'viewer');
    operator = await make('operator1', 'operator');
    const bad = await runCliCaptured(['token', 'create', '--name', 'x', '--role', 'root'], configFile);
    assert.equal(bad.code, 2);
    assert.match(bad.io.stderr.join('\n'), /--role.*viewer, operator, admin/);
    const list = await runCliCaptured(['token', 'list', '--json'], configFile);
    const text = list.io.stdout.join('\n');
    for (const secret of [admin, viewer, operator]) assert.ok(!text.includes(secret), 'no token in token list');
    assert.deepEqual((JSON.parse(text) as { name: string; role: string }[]).map((t) => `${t.name}:${t.role}`), ['admin:admin', 'viewer1:viewer', 'operator1:operator']);
    assert.ok(!/hash/.test(text));
  });

  it('serves every read route to a viewer, with the real state of the database', async () => {
    for (const path of VIEWER_GETS) {
      const res = await serve.request(path, { token: viewer });
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    }
    assert.deepEqual(await (await serve.request('/api/v1/whoami', { token: viewer })).json(), { name: 'viewer1', role: 'viewer' });
    const [db] = (await (await serve.request('/api/v1/databases', { token: viewer })).json()) as { id: string; type: string; healthy: boolean; latencyMs: number; pool: { max: number } }[];
    assert.equal(db!.id, 'app');
    assert.equal(db!.type, 'postgresql');
    assert.equal(db!.healthy, true);
    assert.ok(db!.pool.max > 0);
    const metrics = await (await serve.request('/metrics', { token: viewer })).text();
    assert.match(metrics, /^datakeep_db_client_operation_duration_seconds_bucket\{database_id="app"/m);
    const doc = (await (await serve.request('/openapi.json', { token: viewer })).json()) as { paths: Record<string, unknown> };
    for (const path of ['/api/v1/backups/{id}/restore', '/api/v1/jobs/{id}/events', '/api/v1/transactions/{id}/resolve', '/api/v1/lifecycle/{policy}/run', '/api/v1/replication/failover']) {
      assert.ok(doc.paths[path], `OpenAPI documents ${path}`);
    }
    const [pending] = (await (await serve.request('/api/v1/migrations/plan', { token: viewer })).json()) as { version: string }[];
    assert.equal(pending?.version, '20240101000000');
    const statements = (await (await serve.request('/api/v1/statements?database=app', { token: viewer })).json()) as { available: boolean; reason?: string };
    // The server's own answer decides which form is right: the extension is there or it is not.
    const check = new pg.Client({ connectionString: app.url });
    await check.connect();
    const installed = (await check.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).rowCount === 1;
    await check.end();
    if (installed) assert.equal(statements.available, true);
    else assert.match(statements.reason ?? '', /pg_stat_statements extension is not installed/);
    assert.deepEqual(await (await serve.request('/api/v1/replication', { token: viewer })).json(), { configured: false });
  });

  it('refuses what a role may not do with 403 naming the role needed, and lets the right role through', async () => {
    const cases: [string, string, unknown, string][] = [
      [viewer, '/api/v1/backups', {}, 'operator'],
      [viewer, '/api/v1/lifecycle/p/run', {}, 'operator'],
      [viewer, '/api/v1/backups/b1/restore', { to: '/tmp/x' }, 'admin'],
      [operator, '/api/v1/backups/b1/restore', { to: '/tmp/x' }, 'admin'],
      [operator, '/api/v1/migrations/apply', {}, 'admin'],
      [operator, '/api/v1/transactions/g1/resolve', { action: 'commit' }, 'admin'],
      [operator, '/api/v1/replication/failover', {}, 'admin'],
      [operator, '/api/v1/tokens', { name: 'n', role: 'viewer' }, 'admin'],
    ];
    for (const [token, path, body, needed] of cases) {
      const res = await serve.request(path, { token, body });
      assert.equal(res.status, 403, path);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, new RegExp(`needs the ${needed} role`));
    }
    // Allowed through: what answers then is the route itself (no destination configured: 409; no such backup: 404).
    assert.equal((await serve.request('/api/v1/backups', { token: operator, body: {} })).status, 409);
    assert.equal((await serve.request('/api/v1/backups/b1/restore', { token: admin, body: { to: '/tmp/dk-none' } })).status, 404);
    const bad = await serve.request('/api/v1/transactions/g1/resolve', { token: admin, body: { action: 'maybe' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /^action:/);
    assert.equal((await serve.request('/api/v1/jobs/job_nope', { token: viewer })).status, 404);
    assert.equal((await serve.request('/api/v1/nothing', { token: viewer })).status, 404);
  });

  it('applies migrations as a job whose events stream until done, audited with the token as actor', async () => {
    const res = await serve.request('/api/v1/migrations/apply', { token: admin, body: {} });
    assert.equal(res.status, 202);
    const { jobId } = (await res.json()) as { jobId: string };
    const events = await (await serve.request(`/api/v1/jobs/${jobId}/events`, { token: viewer })).text();
    assert.match(events, /^event: done$/m, events);
    const job = (await (await serve.request(`/api/v1/jobs/${jobId}`, { token: viewer })).json()) as { status: string; actor: string; result: { executed: { version: string }[] } };
    assert.equal(job.status, 'succeeded');
    assert.equal(job.actor, 'token:admin');
    assert.deepEqual(job.result.executed.map((m) => m.version), ['20240101000000']);
    const check = new pg.Client({ connectionString: app.url });
    await check.connect();
    assert.equal((await check.query("SELECT to_regclass('notes') IS NOT NULL AS ok")).rows[0].ok, true);
    await check.end();
    const [entry] = (await (await serve.request('/api/v1/audit?action=migrate.apply', { token: viewer })).json()) as { actor: string; outcome: string; details: { executed: string[] } }[];
    assert.equal(entry?.actor, 'token:admin');
    assert.equal(entry?.outcome, 'succeeded');
    assert.deepEqual(entry?.details.executed, ['20240101000000_create_notes']);
  });

  it('records CLI changes with the OS user as actor, API changes with the token, secrets redacted', async () => {
    const entries = (await (await serve.request('/api/v1/audit?action=token.', { token: viewer })).json()) as { action: string; target: string; actor: string }[];
    const created = entries.filter((e) => e.action === 'token.create').map((e) => `${e.target}:${e.actor.startsWith('token:') ? 'api' : 'os'}`);
    assert.deepEqual(created.sort(), ['admin:os', 'operator1:os', 'viewer1:os']);
    const state = await StateStore.open({ url: stateDb.url, dir: '' }, silentLogger);
    try {
      await state.audit({ action: 'test.secret', target: 'x', details: { password: 'hunter2-never', url: 'postgres://u:hunter2-never@h/db' } });
    } finally {
      await state.close();
    }
    const text = await (await serve.request('/api/v1/audit?action=test.secret', { token: viewer })).text();
    assert.ok(!text.includes('hunter2-never'), text);
    assert.match(text, /\[redacted\]/);
    const cli = await runCliCaptured(['audit', '--json', '--action', 'migrate.'], configFile);
    assert.equal(cli.code, 0);
    assert.equal((cli.io.json<{ actor: string }[]>())[0]?.actor, 'token:admin');
  });

  it('refuses a token revoked while the service runs at its next request', async () => {
    assert.equal((await serve.request('/api/v1/whoami', { token: viewer })).status, 200);
    const { code } = await runCliCaptured(['token', 'revoke', 'viewer1'], configFile);
    assert.equal(code, 0);
    assert.equal((await serve.request('/api/v1/whoami', { token: viewer })).status, 401);
    const again = await runCliCaptured(['token', 'revoke', 'viewer1'], configFile);
    assert.equal(again.code, 2, 'revoking twice says it was revoked already');
    const viaApi = await serve.request('/api/v1/tokens/operator1/revoke', { token: admin, method: 'POST' });
    assert.equal(viaApi.status, 200);
    assert.equal((await serve.request('/api/v1/whoami', { token: operator })).status, 401);
  });

  it('paces a flood (server.requestsPerSecond: 50): 150 requests at once are all answered, the last ones after their turn', async () => {
    // Let the bucket fill up again after the earlier cases, then send three seconds' worth at once.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: 150 }, () => serve.request('/api/v1/whoami', { token: admin }).then(async (r) => (await r.arrayBuffer(), r.status))));
    const elapsed = performance.now() - started;
    assert.deepEqual([...new Set(statuses)], [200]);
    // 50 at once, then 100 more at 50 per second: the flood cannot be answered in less than 2 s (a lower bound
    // set by the pacer, not a speed figure).
    assert.ok(elapsed >= 1900, `150 requests at 50/s took ${Math.round(elapsed)} ms: the pacer did not hold them back`);
  });

  it('answers 429 with Retry-After after 10 failed attempts from one address, even to a good token', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 11; i += 1) last = await serve.request('/api/v1/health', { token: `dk_${String(i).padStart(43, 'B')}` });
    assert.equal(last!.status, 429);
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    assert.equal((await serve.request('/api/v1/health', { token: admin })).status, 429);
    assert.equal((await serve.request('/livez')).status, 200, 'health endpoints are not rate limited');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    assert.equal(await serve.stop('SIGTERM'), 0);
    assert.ok(!serve.stdout.some((l) => l.startsWith('{') && l.includes(admin)), 'no log line holds the admin token');
  });
});
