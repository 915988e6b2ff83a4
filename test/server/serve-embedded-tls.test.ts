import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCliCaptured } from '../support/cli-run.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import { generateTls, type ThrowawayTls } from '../support/throwaway-postgres.js';

/** A GET over HTTPS that trusts only the test CA; status and body. */
function httpsGet(url: string, ca: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

describe('datakeep serve on the embedded default (nothing configured but TLS), over HTTPS', () => {
  let work: string;
  let tls: ThrowawayTls;
  let configFile: string;
  let serve: ServeProcess;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dk-serve-embedded-'));
    tls = await generateTls(join(work, 'tls'), process.getuid!(), process.getgid!());
    configFile = join(work, 'datakeep.config.json');
    // No databases: the embedded PGlite database in the service's ./.datakeep, as `npm start` uses, and the embedded
    // state store (its directory given absolute, so that the CLI run from this test's directory finds the same one).
    writeFileSync(configFile, JSON.stringify({ state: { dir: join(work, '.datakeep', 'state') }, server: { tls: { cert: tls.certFile, key: tls.keyFile } } }));
  });
  after(async () => {
    await serve?.stop('SIGKILL').catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  });

  it('listens with HTTPS only, prints the first admin token, and answers with the embedded database', async () => {
    serve = await startServe(configFile, { cwd: work, waitForToken: true, limitMs: 120_000 });
    assert.match(serve.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const deadline = Date.now() + 120_000;
    while ((await httpsGet(`${serve.url}/readyz`, tls.caPem)).status !== 200) {
      assert.ok(Date.now() < deadline, 'ready within 120 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const token = serve.adminToken!;
    const [db] = JSON.parse((await httpsGet(`${serve.url}/api/v1/databases`, tls.caPem, token)).body) as { type: string; healthy: boolean }[];
    assert.equal(db?.type, 'pglite');
    assert.equal(db?.healthy, true);
    const statements = JSON.parse((await httpsGet(`${serve.url}/api/v1/statements`, tls.caPem, token)).body) as { available: boolean; reason: string };
    assert.deepEqual([statements.available, /pglite keeps no statement statistics/.test(statements.reason)], [false, true]);
    await assert.rejects(fetch(serve.url.replace('https:', 'http:') + '/livez'), 'plain HTTP is not served');
  });

  it('the token CLI cannot open the embedded state store the service holds; the API creates tokens instead', async () => {
    const { code, io } = await runCliCaptured(['token', 'list'], configFile);
    assert.notEqual(code, 0);
    assert.match(io.stderr.join('\n'), /state store.*use its API \(GET\/POST \/api\/v1\/tokens/);
    const created = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${serve.url}/api/v1/tokens`, { method: 'POST', ca: tls.caPem, headers: { authorization: `Bearer ${serve.adminToken}`, 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ name: 'dash', role: 'viewer' }));
    });
    assert.equal(created.status, 200, created.body);
    const viewer = (JSON.parse(created.body) as { token: string }).token;
    assert.deepEqual(JSON.parse((await httpsGet(`${serve.url}/api/v1/whoami`, tls.caPem, viewer)).body), { name: 'dash', role: 'viewer' });
  });

  it('after SIGTERM (exit 0) the CLI opens the state store and lists both tokens', async () => {
    assert.equal(await serve.stop('SIGTERM'), 0);
    const { code, io } = await runCliCaptured(['token', 'list', '--json'], configFile);
    assert.equal(code, 0, io.stderr.join('\n'));
    assert.deepEqual(io.json<{ name: string }[]>().map((t) => t.name), ['admin', 'dash']);
  });
});
