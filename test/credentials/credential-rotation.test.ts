import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CredentialRotation } from '../../src/adapters/credential-rotation.js';
import type { FileCredentialSource } from '../../src/config/credential-source.js';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { CapturedLog, rotated } from '../support/captured-log.js';

/** The adapter core's part that follows a credential source: what it calls, when, and what it logs. */
describe('CredentialRotation', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dk-rotation-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const setup = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, 'Start-Secret-0');
    const config = resolveDatabaseConfig({ id: name, type: 'mongodb', host: 'db', username: 'app', passwordFile: path }, 'databases[0]');
    const source = config.credentials as FileCredentialSource;
    return { path, config, source, change: async (text: string) => {
      writeFileSync(path, text);
      assert.equal(await source.check(), true);
    } };
  };

  it('calls the engine\'s rotation once per change while started, never after stop()', async () => {
    const { config, source, change } = setup('calls');
    const log = new CapturedLog();
    let calls = 0;
    const rotation = new CredentialRotation(config, log, { rotateCredentials: async () => void (calls += 1) });
    rotation.start();
    assert.equal(source.watching, true);
    await change('Next-Secret-1');
    await log.waitFor(rotated('calls'), 'the rotation');
    assert.equal(calls, 1);
    await rotation.stop();
    assert.equal(source.watching, false, 'stop() ends the watch');
    writeFileSync(source.path, 'Later-Secret-2');
    assert.equal(await source.check(), true, 'an explicit check still reads the file');
    assert.equal(calls, 1, 'but a stopped rotation is not told');
    assert.ok(!log.text().includes('Secret'));
  });

  it('an engine without a rotation (MongoDB) warns that the new password needs a restart; a failed rotation warns with the error', async () => {
    const { config, change } = setup('none');
    const log = new CapturedLog();
    const rotation = new CredentialRotation(config, log, {});
    rotation.start();
    await change('Next-Secret-1');
    assert.match(log.lines.at(-1)!.message, /cannot replace its connections: it uses the new password after a restart/);
    await rotation.stop();

    const failing = setup('failing');
    const log2 = new CapturedLog();
    const rotation2 = new CredentialRotation(failing.config, log2, { rotateCredentials: () => Promise.reject(new Error('pool refused')) });
    rotation2.start();
    await failing.change('Next-Secret-1');
    await log2.waitFor((l) => l.level === 'warn' && l.fields?.error === 'pool refused', 'the failed rotation');
    await rotation2.stop();
    assert.ok(!log.text().includes('Secret') && !log2.text().includes('Secret'));
  });
});
