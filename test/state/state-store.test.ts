import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LifecycleError, StateError } from '../../src/errors/index.js';
import { StateStore } from '../../src/state/state-store.js';
import { STATE_MIGRATIONS } from '../../src/state/state-migrations.js';
import { silentLogger } from '../../src/util/logger.js';
import { createTestDatabase } from '../support/postgres-server.js';

const LATEST = Math.max(...STATE_MIGRATIONS.map((m) => m.version));

describe('state store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-state-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('embedded: creates its schema, keeps the audit log across reopen, and refuses a second opener', async () => {
    const stateDir = join(dir, 'state');
    const store = await StateStore.open({ dir: stateDir }, silentLogger);
    try {
      assert.equal(await store.schemaVersion(), LATEST);
      await store.audit({ action: 'test.action', target: 'thing', dryRun: true, details: { n: 1 } });
      await assert.rejects(StateStore.open({ dir: stateDir }, silentLogger), (e: unknown) => e instanceof StateError && /in use by process/.test(e.message));
    } finally {
      await store.close();
    }
    const again = await StateStore.open({ dir: stateDir }, silentLogger);
    try {
      assert.equal(await again.schemaVersion(), LATEST);
      const [entry] = await again.auditLog(1);
      assert.equal(entry!.action, 'test.action');
      assert.equal(entry!.dryRun, true);
      assert.deepEqual(entry!.details, { n: 1 });
    } finally {
      await again.close();
    }
  });

  it('embedded: a directory held by another live process is refused; once that process is gone, it is taken over', async () => {
    const stateDir = join(dir, 'held');
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(`${stateDir}.lock`, `${holder.pid}@${hostname()}`);
      await assert.rejects(StateStore.open({ dir: stateDir }, silentLogger), (e: unknown) => e instanceof StateError && e.cause instanceof LifecycleError && e.message.includes(`process ${holder.pid}`));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const store = await StateStore.open({ dir: stateDir }, silentLogger);
    await store.close();
  });

  it('PostgreSQL: instances opening one store at once upgrade it exactly once', async () => {
    const db = await createTestDatabase('dk_state');
    try {
      const stores = await Promise.all([1, 2, 3].map(() => StateStore.open({ url: db.url, dir: '' }, silentLogger)));
      try {
        const rows = await stores[0]!.adapter.query<{ version: number; c: number }>('SELECT version, count(*)::int AS c FROM datakeep.state_schema GROUP BY version ORDER BY version');
        assert.deepEqual(rows.map((r) => r.version), STATE_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
        assert.ok(rows.every((r) => r.c === 1));
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await db.drop();
    }
  });

  it('refuses a store written by a newer datakeep', async () => {
    const db = await createTestDatabase('dk_state');
    try {
      const store = await StateStore.open({ url: db.url, dir: '' }, silentLogger);
      await store.adapter.execute("INSERT INTO datakeep.state_schema (version, name) VALUES (?, 'from the future')", [LATEST + 1]);
      await store.close();
      await assert.rejects(StateStore.open({ url: db.url, dir: '' }, silentLogger), (e: unknown) => e instanceof StateError && /upgrade datakeep/.test(e.message));
    } finally {
      await db.drop();
    }
  });
});
